"""Attention-sensitivity matrix of one layer: how much moving token j's embedding changes the
(head-averaged) attention paid to token k."""

from __future__ import annotations

import plotly.graph_objects as go

from dashapp.figures.common import HIGHLIGHT, apply_theme, empty_figure, rounded, token_labels
from interp.schema import Analysis


def sensitivity_figure(analysis: Analysis, layer: int, token: int | None = None, theme: str | None = None) -> go.Figure:
    if analysis.attention_sensitivity is None:
        return empty_figure("attention sensitivity not computed yet", theme)
    labels = token_labels(analysis.tokens)
    layer = min(layer, analysis.attention_sensitivity.shape[0] - 1)
    fig = go.Figure(go.Heatmap(
        z=rounded(analysis.attention_sensitivity[layer], 5), x=labels, y=labels, colorscale="Viridis",
        hovertemplate="moving %{y}<br>changes attention to %{x}<br>%{z:.4g}<extra></extra>",
    ))
    fig.update_layout(shapes=token_row(analysis.n_tokens, token))
    fig.update_yaxes(autorange="reversed", type="category", title="embedding moved (j)")
    fig.update_xaxes(type="category", title="attended token (k)", tickangle=-60)
    return apply_theme(fig, theme, f"Attention sensitivity · layer {layer} (‖∂ Σᵢ Āᵢₖ / ∂eⱼ‖)",
                       height=min(900, 250 + 14 * analysis.n_tokens))


def token_row(n_tokens: int, token: int | None) -> list[dict]:
    """The selected token's row outlined: how moving its embedding changes the attention to each token."""
    if token is None or not 0 <= token < n_tokens:
        return []
    return [dict(type="rect", xref="x", yref="y", x0=-0.5, x1=n_tokens - 0.5, y0=token - 0.5, y1=token + 0.5,
                 line=dict(color=HIGHLIGHT, width=2))]
