"""Neuron view (BertViz): for one layer, head and query token, the query vector, each key vector, their
elementwise product q∘k, the scores q·k·scale and the softmax.

Computed here, in numpy, from the queries and keys the analysis stores (interp.attention_rebuild.neuron_row);
the web never runs the model. Dimensions are sorted by their contribution to the attention-weighted score
(Σ_j a_j q_d k_jd), largest first. Keys are the tokens the query may see; past MAX_KEYS, the ones it
attends to most. Clicking a key (any panel's row) selects that token.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashapp.figures.common import accent, apply_theme, empty_figure, escape, rounded, token_labels
from dashapp.figures.tokens import readable_tokens
from interp.attention_rebuild import neuron_row
from interp.schema import Analysis

MAX_KEYS = 48  # rows a person can read; the rest are the least attended
DIVERGING = "RdBu_r"  # signed values: q, k, q∘k (0 white)


def stored_qk(analysis: Analysis, kind: str | None = None) -> tuple[str, dict] | None:
    """(kind, {"q", "k", "layout"}) of the stored queries and keys the view draws: the one stack's ("self"),
    or a seq2seq kind's (default the encoder's, which is `analysis.attention`); None where none are stored."""
    if (
        analysis.queries is not None
        and analysis.keys is not None
        and analysis.qk_layout
        and kind in (None, "self")
    ):
        return "self", {"q": analysis.queries, "k": analysis.keys, "layout": analysis.qk_layout}
    kind = kind or "encoder"
    found = analysis.kind_qk.get(kind)
    return None if found is None else (kind, found)


def neuron_view_figure(
    analysis: Analysis,
    layer: int,
    head: int | None,
    token: int | None,
    theme: str | None = None,
    kind: str | None = None,
) -> go.Figure:
    stored = stored_qk(analysis, kind)
    if stored is None:
        why = "this analysis stores no queries and keys (its attention is kept whole)"
        return empty_figure(f"no neuron view: {why}; the CLI's `interpboard neurons` computes it", theme)
    kind, qk = stored
    query_tokens, key_tokens = _tokens(analysis, kind)
    if token is None or not 0 <= token < len(query_tokens):
        return empty_figure("select a query token to see its query and key vectors", theme)
    head = 0 if head is None else head
    layer = min(layer, qk["q"].shape[0] - 1)
    data = neuron_row(qk["q"], qk["k"], qk["layout"], layer, head, token)
    attention, products = data["attention"], data["products"]
    contribution = (attention[:, None] * products).sum(axis=0)
    order = np.argsort(-contribution)  # dimensions, largest contribution first
    shown = np.arange(len(attention))
    if len(shown) > MAX_KEYS:
        shown = np.sort(np.argsort(-attention)[:MAX_KEYS])
    labels, key_labels = token_labels(query_tokens), token_labels(key_tokens)
    keys_y = [key_labels[data["key_offset"] + j] for j in shown]
    dims = [f"d{d}" for d in order]
    height = int(min(1300, 260 + 20 * len(shown)))
    fig = make_subplots(
        rows=2,
        cols=4,
        shared_yaxes=False,
        column_widths=[0.34, 0.34, 0.16, 0.16],
        row_heights=[1.2, len(shown)],  # the query's row as tall as a key's
        horizontal_spacing=0.03,
        vertical_spacing=60 / height,  # room for the panels' titles, in pixels
        subplot_titles=("query q", "", "", "", "keys k", "q ∘ k", "q·k × scale", "softmax"),
    )
    top = float(max(np.abs(data["query"]).max(), np.abs(data["keys"]).max(), 1e-6))
    fig.add_trace(
        go.Heatmap(
            z=rounded(data["query"][order][None, :]),
            x=dims,
            y=[labels[token]],
            colorscale=DIVERGING,
            zmid=0,
            zmin=-top,
            zmax=top,
            showscale=False,
            hovertemplate="query %{y}<br>%{x}: %{z:.3f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    for col, values, name in ((1, data["keys"], "k"), (2, products, "q∘k")):
        z = values[shown][:, order]
        bound = top if col == 1 else float(max(np.abs(z).max(), 1e-6))
        fig.add_trace(
            go.Heatmap(
                z=rounded(z),
                x=dims,
                y=keys_y,
                colorscale=DIVERGING,
                zmid=0,
                zmin=-bound,
                zmax=bound,
                showscale=False,
                hovertemplate=f"key %{{y}}<br>%{{x}}: {name} %{{z:.3f}}<extra></extra>",
            ),
            row=2,
            col=col,
        )
    for col, values, what in ((3, data["scores"], "score"), (4, attention, "attention")):
        fig.add_trace(
            go.Bar(
                x=rounded(values[shown]),
                y=keys_y,
                orientation="h",
                marker_color=accent(theme),
                hovertemplate=f"key %{{y}}<br>{what} %{{x:.4f}}<extra></extra>",
                showlegend=False,
            ),
            row=2,
            col=col,
        )
    for col in range(1, 5):
        fig.update_yaxes(type="category", autorange="reversed", row=2, col=col, showticklabels=col == 1)
        if col > 1:
            fig.update_yaxes(matches="y5", row=2, col=col)
    fig.update_yaxes(type="category", row=1, col=1)
    for col, title in ((1, f"{len(order)} dimensions, largest contribution first →"), (2, "same order")):
        fig.update_xaxes(type="category", showticklabels=False, row=2, col=col, matches="x", title=title)
    fig.update_xaxes(visible=False, row=1, col=2)
    fig.update_yaxes(visible=False, row=1, col=2)
    for col in (3, 4):
        fig.update_xaxes(visible=False, row=1, col=col)
        fig.update_yaxes(visible=False, row=1, col=col)
    fig.update_xaxes(type="category", showticklabels=False, row=1, col=1)
    notes = [f"query {escape(query_tokens[token])}"]
    if kind != "self":
        notes.insert(0, f"{kind} attention")
    if qk["layout"].get("position_bias"):
        notes.append("scores without T5's relative position bias")
    if len(shown) < len(attention):
        notes.append(f"the {len(shown)} most attended of {len(attention)} keys")
    if qk["layout"].get("softcap"):
        notes.append("scores soft-capped")
    return apply_theme(
        fig,
        theme,
        f"Neuron view · layer {layer} · head {head} · " + " · ".join(notes),
        subtitle_lines=1,
        height=height,
    )


def _tokens(analysis: Analysis, kind: str) -> tuple[list[str], list[str]]:
    """The query side's and the key side's tokens of an attention kind."""
    source = readable_tokens(analysis)
    decoder = list(analysis.decoder_tokens or [])
    return {"decoder": (decoder, decoder), "cross": (decoder, source)}.get(kind, (source, source))
