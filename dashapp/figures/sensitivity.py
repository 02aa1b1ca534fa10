"""Attention-sensitivity matrix of one layer: how much moving token j's embedding changes the
(head-averaged) attention paid to token k."""

from __future__ import annotations

import plotly.graph_objects as go

from dashapp.figures.common import apply_theme, empty_figure, row_outline, token_labels
from dashapp.figures.heatmap import Zoom, matrix_heatmap, resolution_note
from dashapp.figures.tokens import readable_tokens
from interp.schema import Analysis


def sensitivity_figure(
    analysis: Analysis,
    layer: int,
    token: int | None = None,
    theme: str | None = None,
    zoom: Zoom | None = None,
) -> go.Figure:
    if analysis.attention_sensitivity is None:
        return empty_figure("attention sensitivity not computed yet", theme)
    layer = min(layer, analysis.attention_sensitivity.shape[0] - 1)
    fig = matrix_heatmap(
        analysis.attention_sensitivity[layer],
        token_labels(readable_tokens(analysis)),
        "moving %{y}<br>changes attention to %{x}<br>%{z:.4g}<extra></extra>",
        "Viridis",
        zoom=zoom,
        digits=5,
    )
    fig.update_layout(shapes=row_outline(analysis.n_tokens, token))
    fig.update_yaxes(title="embedding moved (j)")
    fig.update_xaxes(title="attended token (k)")
    note = resolution_note(analysis.n_tokens, zoom)
    return apply_theme(
        fig,
        theme,
        f"Attention sensitivity · layer {layer} (‖∂ Σᵢ Āᵢₖ / ∂eⱼ‖){note}",
        height=min(900, 250 + 14 * analysis.n_tokens),
    )
