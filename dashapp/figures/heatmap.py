"""Attention heatmap of one layer and one head (or the head average): queries down, keys across."""

from __future__ import annotations

import plotly.graph_objects as go

from dashapp.figures.common import (
    apply_theme,
    empty_figure,
    head_matrix,
    head_name,
    rounded,
    row_outline,
    sequential_scale,
    token_labels,
)
from dashapp.figures.tokens import readable_tokens
from interp.schema import Analysis


def heatmap_figure(
    analysis: Analysis, layer: int, head: int | None, token: int | None = None, theme: str | None = None
) -> go.Figure:
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    labels = token_labels(readable_tokens(analysis))
    matrix = head_matrix(analysis, layer, head)
    # The scale starts at 0 (both ends given, or plotly ignores zmin): near-uniform attention looks uniform.
    fig = go.Figure(
        go.Heatmap(
            z=rounded(matrix),
            x=labels,
            y=labels,
            colorscale=sequential_scale(theme),
            zmin=0,
            zmax=max(float(matrix.max()), 1e-6),
            hovertemplate="from %{y}<br>to %{x}<br>%{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(shapes=token_outline(analysis.n_tokens, token))
    fig.update_yaxes(autorange="reversed", type="category", title="from (query)")
    fig.update_xaxes(type="category", title="to (key)", tickangle=-60)
    size = min(900, 250 + 14 * analysis.n_tokens)
    return apply_theme(fig, theme, f"Attention · layer {layer} · {head_name(head)}", height=size)


def token_outline(n_tokens: int, token: int | None) -> list[dict]:
    """The selected token's row (where it attends) and column (who attends to it), outlined."""
    row = row_outline(n_tokens, token)
    column = [
        {**rect, "x0": token - 0.5, "x1": token + 0.5, "y0": -0.5, "y1": n_tokens - 0.5} for rect in row
    ]
    return row + column
