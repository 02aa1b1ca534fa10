"""Request and result types shared by every room.

Torch-free on purpose: the Dash server, the cache and the job layer import this module without
pulling torch in. The engine (`interp.engine`) fills an `Analysis`; everyone else reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interp.attention_rebuild import AttentionStack

# Re-exported: rooms import the request and its vocabulary from here.
from interp.request import (  # noqa: F401
    DEFAULT_IG_STEPS,
    DEFAULT_TOP_K,
    ENGINE_VERSION,
    MASK_MARKERS,
    MAX_TEXT_CHARS,
    METHODS,
    SALIENCY_METHODS,
    AnalysisRequest,
    InputError,
    MalformedRequest,
    ModelUnavailable,
    count_masks,
    normalize_text,
    replace_mask_marker,
)
from interp.task_specs import PAIR_TASKS, TASK_SPECS, TASKS  # noqa: F401

# Arrays stored per analysis, with the precision the cache keeps them in.
ARRAY_DTYPES = {
    "attention": np.float16,  # [L, H, n, n]
    "attention_sensitivity": np.float16,  # [L, n, n]
    "decoder_attention": np.float16,  # seq2seq [L, H, nt, nt]
    "cross_attention": np.float16,  # seq2seq [L, H, nt, ns]
    "head_entropy": np.float32,  # [L, H]
    "head_special_share": np.float32,  # [L, H]
    "head_mean_distance": np.float32,  # [L, H]
    "qk.q": np.float16,  # [L, H, n, d_head] queries (interp.qk_capture: already rounded as stored)
    "qk.k": np.float16,  # [L, H_kv, n, d_head] keys
    "qk.lse": np.float32,  # [L, H, n] log of each attention row's softmax denominator
    "attention_thumbs": np.float16,  # [L, H, s, s] the model overview's thumbnails
}


ATTENTION_ARRAYS = ("attention", "decoder_attention", "cross_attention")
# Lists of the sequence outputs (seq2seq, generation), stored in the metadata only when present.
SEQUENCE_META = ("steps", "decoder_tokens", "target_tokens")


def storage_array(name: str, values: np.ndarray) -> np.ndarray:
    """The array as the store keeps it (a part stored on its own is kept as in the whole analysis)."""
    return _storage_array(name, values)


def _storage_array(name: str, values: np.ndarray) -> np.ndarray:
    """Cast to the stored dtype, rounding matrices to a grid no coarser than float16's own spacing
    at the array's largest values: the worst-case error stays float16's, while the many tiny
    values stop carrying noise bits nobody can see, and compress (stored size 0.40 -> 0.23 of float32).
    """
    dtype = ARRAY_DTYPES.get(name, np.float16 if name.endswith((".q", ".k")) else np.float32)  # qk.<kind>.q
    values = np.asarray(values, dtype=np.float32)
    if name in ATTENTION_ARRAYS:  # probabilities in [0, 1]: float16 spacing just below 1 is 2**-11
        values = np.round(values * 2.0**13) / 2.0**13
    elif name == "attention_sensitivity" and values.size:  # per layer, relative to the layer's largest norm
        top = np.abs(values).reshape(values.shape[0], -1).max(axis=1).reshape(-1, *[1] * (values.ndim - 1))
        step = np.where(top > 0, top * 2.0**-11, 1.0)
        values = np.round(values / step) * step
    return np.ascontiguousarray(values, dtype=dtype)


@dataclass
class Analysis:
    """What the engine computed for one request. Arrays are numpy; everything else is JSON-able.

    Parts may be missing while a job is running (stage by stage): `attention` arrives with the
    predictions, `saliency` and `attention_sensitivity` later. `stages_done` says which.
    """

    request: AnalysisRequest
    fingerprint: str
    tokens: list[str]
    token_words: list[int | None]  # word index of each token; None for special tokens
    words: list[str]  # the words, in order over text then pair
    token_segments: list[
        int
    ]  # 0 = text, 1 = pair (similarity: the second sentence's tokens follow the first's)
    special_tokens: list[bool]
    predictions: list[
        dict[str, Any]
    ]  # [{"label", "score", ...}], best first for mlm/causal-lm, model order for classes
    target: dict[str, Any] | None  # {"label", "index"} the saliency explains
    mask_position: int | None = None  # token index of the mask (mlm)
    truncated: bool = False
    tokens_before_truncation: int | None = None  # the input's tokens before the cut, when truncated
    attention: np.ndarray | AttentionStack | None = None  # [L, H, n, n], rows sum to 1
    saliency: dict[str, np.ndarray] = field(default_factory=dict)  # method -> [n]
    saliency_info: dict[str, dict[str, float]] = field(default_factory=dict)  # e.g. IG completeness delta
    attention_sensitivity: np.ndarray | None = (
        None  # [L, n, n]; row j = moved embedding, column k = attended token
    )
    head_stats: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # entropy / special_share / mean_distance -> [L, H]
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    stages_done: list[str] = field(default_factory=list)
    device: str = "cpu"
    architecture: dict[str, Any] = field(default_factory=dict)  # interp.architecture.describe (GQA, windows)
    # Sequence outputs, one step per target token (seq2seq) or generated token (causal-lm generate):
    steps: list[dict[str, Any]] = field(default_factory=list)  # {"token", "label", "token_id", "position",
    #   "predictions"}; position: the attention row that predicts it (generation: its index in tokens - 1)
    step_saliency: dict[str, np.ndarray] = field(default_factory=dict)  # method -> [T, N]: per step, the
    #   scores on every token (seq2seq: source then decoder tokens; generation: tokens)
    decoder_tokens: list[str] | None = None  # seq2seq: the decoder's input tokens (start + target[:-1])
    target_tokens: list[str] | None = None  # seq2seq: the target tokens (tokens = the source tokens)
    decoder_attention: np.ndarray | None = None  # seq2seq [L, H, nt, nt] (attention: the encoder's)
    cross_attention: np.ndarray | None = None  # seq2seq [L, H, nt, ns]
    logit_lens: list[list[dict[str, Any]]] | None = None  # per layer, top-k {"label", "score", "token_id"}
    logit_lens_target: list[dict[str, Any]] | None = None  # per layer, the target's {"rank", "score"}
    # request.candidates scored: [{"word", "score" (None: not one token), "single_token", "token_ids", "pieces"}]
    candidate_scores: list[dict[str, Any]] | None = None
    # Stored instead of dense attention where the rebuild is exact (qk_layout["exact"]; interp.qk_capture);
    # read back, `attention` is then an AttentionStack rebuilding a layer at a time.
    queries: np.ndarray | None = None  # [L, H, n, d_head]
    keys: np.ndarray | None = None  # [L, H_kv, n, d_head]
    attention_lse: np.ndarray | None = None  # [L, H, n]
    qk_layout: dict[str, Any] | None = None  # interp.attention_rebuild's layout (scales, masks, GQA, ...)
    attention_thumbs: np.ndarray | None = None  # [L, H, s, s] block means for the model overview
    # seq2seq: per kind (encoder, decoder, cross), {"q", "k", "layout"} for the neuron view; attention stays dense
    kind_qk: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def attention_is_rebuilt(self) -> bool:
        """True where the store keeps q/k and not the attention itself."""
        return self.queries is not None and bool((self.qk_layout or {}).get("exact"))

    # Computed in parts (interp.part_names): name -> {"state": done | offered | running | queued,
    # "estimate_s"}; empty: everything asked for is here. A sensitivity layer not computed is NaN.
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def num_layers(self) -> int:
        return 0 if self.attention is None else int(self.attention.shape[0])

    def sensitivity_of(self, layer: int) -> np.ndarray | None:
        """Layer `layer`'s [n, n] attention sensitivity; None when it is not computed (yet)."""
        values = self.attention_sensitivity
        if values is None or not 0 <= layer < values.shape[0] or np.isnan(values[layer]).all():
            return None
        return values[layer]

    @property
    def num_heads(self) -> int:
        return 0 if self.attention is None else int(self.attention.shape[1])

    # --- (de)serialisation: JSON metadata + named numpy arrays, never pickle -------------------

    def to_record(self, *, dense: bool = False) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Split into JSON metadata and arrays (cast to their storage precision). Attention that q/k rebuild
        is left out unless `dense` (exports) asks for it too."""
        arrays: dict[str, np.ndarray] = {}
        if self.attention is not None and (dense or not self.attention_is_rebuilt):
            arrays["attention"] = np.asarray(self.attention)
        for name, values in (
            ("qk.q", self.queries),
            ("qk.k", self.keys),
            ("qk.lse", self.attention_lse),
            ("attention_thumbs", self.attention_thumbs),
        ):
            if values is not None:
                arrays[name] = values
        if self.attention_sensitivity is not None:
            arrays["attention_sensitivity"] = self.attention_sensitivity
        for name, values in self.saliency.items():
            arrays[f"saliency.{name}"] = values
        for name, values in self.head_stats.items():
            arrays[f"head_{name}"] = values
        for name, values in self.step_saliency.items():
            arrays[f"step_saliency.{name}"] = values
        for name in ("decoder_attention", "cross_attention"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        for kind, found in self.kind_qk.items():
            arrays[f"qk.{kind}.q"], arrays[f"qk.{kind}.k"] = found["q"], found["k"]
        arrays = {k: _storage_array(k, v) for k, v in arrays.items()}
        if dense and self.attention_is_rebuilt:  # as the views draw it, not rounded once more for storage
            arrays["attention"] = np.asarray(self.attention, dtype=np.float32)
        meta = {
            "request": self.request.to_dict(),
            "fingerprint": self.fingerprint,
            "engine": ENGINE_VERSION,
            "tokens": self.tokens,
            "token_words": self.token_words,
            "words": self.words,
            "token_segments": self.token_segments,
            "special_tokens": self.special_tokens,
            "predictions": self.predictions,
            "target": self.target,
            "mask_position": self.mask_position,
            "truncated": self.truncated,
            "tokens_before_truncation": self.tokens_before_truncation,
            "saliency_info": self.saliency_info,
            "timings": self.timings,
            "stages_done": self.stages_done,
            "device": self.device,
            "architecture": self.architecture,
            "logit_lens": self.logit_lens,
            "logit_lens_target": self.logit_lens_target,
        }
        if self.candidate_scores is not None:
            meta["candidate_scores"] = self.candidate_scores
        if self.qk_layout is not None:
            meta["qk_layout"] = self.qk_layout
        if self.kind_qk:
            meta["kind_qk"] = {kind: found["layout"] for kind, found in self.kind_qk.items()}
        meta.update({name: getattr(self, name) for name in SEQUENCE_META if getattr(self, name)})
        if self.parts:
            meta["parts"] = self.parts
        return meta, arrays

    @classmethod
    def from_record(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Analysis:
        as32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
        layout = meta.get("qk_layout")
        attention: Any = as32(arrays["attention"]) if "attention" in arrays else None
        if attention is None and "qk.q" in arrays and layout and layout.get("exact"):
            attention = AttentionStack(arrays["qk.q"], arrays["qk.k"], layout, arrays.get("qk.lse"))
        return cls(
            request=AnalysisRequest.from_dict(meta["request"]),
            fingerprint=meta["fingerprint"],
            tokens=list(meta["tokens"]),
            token_words=list(meta["token_words"]),
            words=list(meta["words"]),
            token_segments=list(meta["token_segments"]),
            special_tokens=list(meta["special_tokens"]),
            predictions=list(meta["predictions"]),
            target=meta.get("target"),
            mask_position=meta.get("mask_position"),
            truncated=bool(meta.get("truncated", False)),
            tokens_before_truncation=meta.get("tokens_before_truncation"),
            attention=attention,
            saliency={k.split(".", 1)[1]: as32(v) for k, v in arrays.items() if k.startswith("saliency.")},
            saliency_info=dict(meta.get("saliency_info") or {}),
            attention_sensitivity=as32(arrays["attention_sensitivity"])
            if "attention_sensitivity" in arrays
            else None,
            head_stats={k[len("head_") :]: as32(v) for k, v in arrays.items() if k.startswith("head_")},
            timings=dict(meta.get("timings") or {}),
            stages_done=list(meta.get("stages_done") or []),
            device=meta.get("device", "cpu"),
            architecture=dict(meta.get("architecture") or {}),
            steps=list(meta.get("steps") or []),
            step_saliency={
                k.split(".", 1)[1]: as32(v) for k, v in arrays.items() if k.startswith("step_saliency.")
            },
            decoder_tokens=meta.get("decoder_tokens"),
            target_tokens=meta.get("target_tokens"),
            decoder_attention=as32(arrays["decoder_attention"]) if "decoder_attention" in arrays else None,
            cross_attention=as32(arrays["cross_attention"]) if "cross_attention" in arrays else None,
            logit_lens=meta.get("logit_lens"),
            logit_lens_target=meta.get("logit_lens_target"),
            candidate_scores=meta.get("candidate_scores"),
            queries=arrays.get("qk.q"),
            keys=arrays.get("qk.k"),
            attention_lse=arrays.get("qk.lse"),
            qk_layout=layout,
            attention_thumbs=arrays.get("attention_thumbs"),
            parts={k: dict(v) for k, v in (meta.get("parts") or {}).items()},
            kind_qk={
                kind: {"q": arrays[f"qk.{kind}.q"], "k": arrays[f"qk.{kind}.k"], "layout": layout}
                for kind, layout in (meta.get("kind_qk") or {}).items()
                if f"qk.{kind}.q" in arrays
            },
        )

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        """The CLI/API shape: lists and floats only."""
        out: dict[str, Any] = {
            "model": self.request.model,
            "task": self.request.task,
            "text": self.request.text,
            "pair": self.request.pair,
            "tokens": self.tokens,
            "token_words": self.token_words,
            "words": self.words,
            "mask_position": self.mask_position,
            "predictions": self.predictions,
            "target": self.target,
            "saliency": {
                k: np.asarray(v, dtype=np.float64).round(7).tolist() for k, v in self.saliency.items()
            },
            "saliency_info": self.saliency_info,
            "head_stats": {
                k: np.asarray(v, dtype=np.float64).round(6).tolist() for k, v in self.head_stats.items()
            },
            "truncated": self.truncated,
            "tokens_before_truncation": self.tokens_before_truncation,
            "timings": self.timings,
            "stages_done": self.stages_done,
            "architecture": self.architecture,
            "logit_lens": self.logit_lens,
            "logit_lens_target": self.logit_lens_target,
            "parts": self.parts,
        }
        if self.candidate_scores is not None:
            out["candidate_scores"] = self.candidate_scores
        if full:
            out["attention"] = (
                None
                if self.attention is None
                else np.asarray(self.attention, dtype=np.float64).round(6).tolist()
            )
            out["attention_sensitivity"] = (
                None
                if self.attention_sensitivity is None
                else np.asarray(self.attention_sensitivity, dtype=np.float64).round(7).tolist()
            )
        if self.steps:
            out.update(self._sequence_json(full))
            if self.target_tokens is not None:  # seq2seq: it is the encoder_attention
                out.pop("attention", None)
        return out

    def _sequence_json(self, full: bool) -> dict[str, Any]:
        """seq2seq: per target token; generation: per generated step (see the CLI/JSON contract)."""
        rows = lambda a, digits: np.asarray(a, dtype=np.float64).round(digits).tolist()  # noqa: E731
        if self.target_tokens is None:  # causal-lm generation
            return {
                "generated": [step["token"] for step in self.steps],
                "steps": [
                    {
                        "token": step["token"],
                        "position": step["position"],
                        "predictions": step["predictions"],
                        "saliency": {
                            m: rows(v[t, : step["position"] + 1], 7) for m, v in self.step_saliency.items()
                        },
                    }
                    for t, step in enumerate(self.steps)
                ],
            }
        out: dict[str, Any] = {
            "source_tokens": self.tokens,
            "target_tokens": self.target_tokens,
            "decoder_tokens": self.decoder_tokens,
            "predictions": [step["predictions"] for step in self.steps],
            "saliency": {m: rows(v, 7) for m, v in self.step_saliency.items()},
        }
        if full:
            out["encoder_attention"] = None if self.attention is None else rows(self.attention, 6)
            out["decoder_attention"] = (
                None if self.decoder_attention is None else rows(self.decoder_attention, 6)
            )
            out["cross_attention"] = None if self.cross_attention is None else rows(self.cross_attention, 6)
        return out
