"""Attention-sensitivity matrix of one layer: how much moving token j's embedding changes the
(head-averaged) attention paid to token k."""

from __future__ import annotations

import plotly.graph_objects as go

from dashapp.figures.common import apply_theme, empty_figure, rounded, row_outline, token_labels
from dashapp.figures.tokens import readable_tokens
from interp.schema import Analysis


def sensitivity_figure(
    analysis: Analysis, layer: int, token: int | None = None, theme: str | None = None
) -> go.Figure:
    if analysis.attention_sensitivity is None:
        return empty_figure("attention sensitivity not computed yet", theme)
    labels = token_labels(readable_tokens(analysis))
    layer = min(layer, analysis.attention_sensitivity.shape[0] - 1)
    fig = go.Figure(
        go.Heatmap(
            z=rounded(analysis.attention_sensitivity[layer], 5),
            x=labels,
            y=labels,
            colorscale="Viridis",
            hovertemplate="moving %{y}<br>changes attention to %{x}<br>%{z:.4g}<extra></extra>",
        )
    )
    fig.update_layout(shapes=row_outline(analysis.n_tokens, token))
    fig.update_yaxes(autorange="reversed", type="category", title="embedding moved (j)")
    fig.update_xaxes(type="category", title="attended token (k)", tickangle=-60)
    return apply_theme(
        fig,
        theme,
        f"Attention sensitivity · layer {layer} (‖∂ Σᵢ Āᵢₖ / ∂eⱼ‖)",
        height=min(900, 250 + 14 * analysis.n_tokens),
    )
