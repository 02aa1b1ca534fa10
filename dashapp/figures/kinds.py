"""The kinds of attention an analysis holds, as the attention views see each one.

Most models have one: self-attention over the input's tokens. A seq2seq analysis has three: the encoder's
self-attention over the source tokens, the decoder's over its own input tokens, and cross-attention from
each decoder token to the source tokens. The views (graph, heatmap, head view, model overview, token
focus) draw any of them from `on_kind(analysis, selection)`: an Analysis whose `attention` and `tokens`
are the kind's queries, plus, for cross-attention, the keys' own labels (`key_labels`).

The selection names the query and key rows by what they are: a source token is the selection's `token`,
a decoder token the `step` it predicts (decoder position t predicts target token t). So a click on a target
token in the steps strip selects that decoder row in every view, and a source token stays selected
across kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from dashapp.figures.tokens import readable_tokens
from interp.schema import Analysis

ENCODER, DECODER, CROSS = "encoder", "decoder", "cross"
KIND_LABELS = {
    ENCODER: "Encoder self-attention",
    DECODER: "Decoder self-attention",
    CROSS: "Cross-attention (target → source)",
}
KIND_SHORT = {ENCODER: "encoder", DECODER: "decoder", CROSS: "cross-attention"}  # in a view's title
_ARRAYS = {ENCODER: "attention", DECODER: "decoder_attention", CROSS: "cross_attention"}


@dataclass
class KindAnalysis(Analysis):
    """An analysis as the attention views see one kind of its attention: queries as `tokens`."""

    kind: str = ENCODER
    key_tokens: list[str] | None = None  # readable key labels where the keys are not the queries (cross)
    key_segments: list[int] | None = None


def kinds(analysis: Analysis | None) -> tuple[str, ...]:
    """The kinds of attention the analysis holds: seq2seq's three, else its one self-attention."""
    if analysis is None or (analysis.decoder_attention is None and analysis.cross_attention is None):
        return (ENCODER,)
    return tuple(kind for kind, name in _ARRAYS.items() if getattr(analysis, name) is not None)


def kind_of(selection: dict[str, Any]) -> str:
    return selection.get("kind") or ENCODER


def _decoder_side(analysis: Analysis) -> dict[str, Any]:
    """The decoder's input tokens as the views' tokens (their first is the decoder's start token)."""
    tokens = list(analysis.decoder_tokens or [])
    specials = {t for t, special in zip(analysis.tokens, analysis.special_tokens) if special}
    return {
        "tokens": tokens,
        "token_words": [None] * len(tokens),
        "words": [],
        "token_segments": [0] * len(tokens),
        "special_tokens": [i == 0 or t in specials for i, t in enumerate(tokens)],
        "mask_position": None,
        "head_stats": {},
        "attention_sensitivity": None,
        # the encoder's: its q/k and overview thumbnails are not this kind's
        "queries": None,
        "keys": None,
        "attention_lse": None,
        "qk_layout": None,
        "attention_thumbs": None,
    }


def on_kind(analysis: Analysis, selection: dict[str, Any]) -> tuple[Analysis, dict[str, Any]]:
    """(the analysis as the selected kind's views see it, the selection valid for that kind's shape)."""
    kind = kind_of(selection)
    if kind == ENCODER or kind not in kinds(analysis):
        return analysis, {**selection, "kind": None}
    attention = getattr(analysis, _ARRAYS[kind])
    base = {f.name: getattr(analysis, f.name) for f in fields(Analysis)}
    view = KindAnalysis(
        **{**base, **_decoder_side(analysis), "attention": attention},
        kind=kind,
        key_tokens=readable_tokens(analysis) if kind == CROSS else None,
        key_segments=list(analysis.token_segments) if kind == CROSS else None,
    )
    layers, heads = attention.shape[:2]
    sel = {**selection, "layer": min(selection.get("layer") or 0, layers - 1)}
    if sel.get("head") is not None and sel["head"] >= heads:
        sel["head"] = None
    return view, sel


def query_key(analysis: Analysis, selection: dict[str, Any]) -> tuple[int | None, int | None]:
    """The selected query row and key column of the kind on show (None: none selected, or out of range)."""
    kind = getattr(analysis, "kind", ENCODER)
    query = selection.get("step") if kind in (DECODER, CROSS) else selection.get("token")
    key = selection.get("step") if kind == DECODER else selection.get("token")
    n_queries, n_keys = analysis.n_tokens, len(key_labels(analysis))
    return (
        query if query is not None and 0 <= query < n_queries else None,
        key if key is not None and 0 <= key < n_keys else None,
    )


def select(selection: dict[str, Any], side: str, index: int) -> dict[str, Any]:
    """The selection after a click on query (`side` "query") or key ("key") number `index` of its kind."""
    kind = kind_of(selection)
    field = "step" if kind == DECODER or (kind == CROSS and side == "query") else "token"
    return {**selection, field: int(index)}


def key_labels(analysis: Analysis) -> list[str]:
    """The keys' readable labels: the queries' own, except for cross-attention (the source tokens)."""
    if isinstance(analysis, KindAnalysis) and analysis.key_tokens is not None:
        return analysis.key_tokens
    return readable_tokens(analysis)


def key_segments(analysis: Analysis) -> np.ndarray:
    """The keys' sentence (0: A, 1: B) for the sentence-pair filter."""
    if isinstance(analysis, KindAnalysis) and analysis.key_segments is not None:
        return np.asarray(analysis.key_segments)
    return query_segments(analysis)


def query_segments(analysis: Analysis) -> np.ndarray:
    n = analysis.n_tokens
    return np.asarray(analysis.token_segments[:n] or [0] * n)


def kind_title(analysis: Analysis) -> str:
    """' · cross-attention' in a view's title when the kind on show is not the only one."""
    kind = getattr(analysis, "kind", ENCODER)
    return "" if kind == ENCODER and analysis.decoder_attention is None else f" · {KIND_SHORT[kind]}"
