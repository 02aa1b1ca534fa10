"""Attention heatmap of one layer and one head (or the head average): queries down, keys across."""

from __future__ import annotations

import plotly.graph_objects as go

from dashapp.figures.common import HIGHLIGHT, apply_theme, empty_figure, head_matrix, head_name, rounded, token_labels
from interp.schema import Analysis


def heatmap_figure(analysis: Analysis, layer: int, head: int | None, token: int | None = None,
                   theme: str | None = None) -> go.Figure:
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    labels = token_labels(analysis.tokens)
    fig = go.Figure(go.Heatmap(
        z=rounded(head_matrix(analysis, layer, head)), x=labels, y=labels, colorscale="Blues", zmin=0,
        hovertemplate="from %{y}<br>to %{x}<br>%{z:.3f}<extra></extra>",
    ))
    if token is not None and 0 <= token < analysis.n_tokens:
        # Outline the selected token's row (where it attends) and column (who attends to it).
        line = dict(color=HIGHLIGHT, width=2)
        fig.add_shape(type="rect", xref="x", yref="y", x0=-0.5, x1=analysis.n_tokens - 0.5,
                      y0=token - 0.5, y1=token + 0.5, line=line)
        fig.add_shape(type="rect", xref="x", yref="y", x0=token - 0.5, x1=token + 0.5,
                      y0=-0.5, y1=analysis.n_tokens - 0.5, line=line)
    fig.update_yaxes(autorange="reversed", type="category", title="from (query)")
    fig.update_xaxes(type="category", title="to (key)", tickangle=-60)
    size = min(900, 250 + 14 * analysis.n_tokens)
    return apply_theme(fig, theme, f"Attention · layer {layer} · {head_name(head)}", height=size)
