"""Word-level views for the Compare page: saliency and head-averaged attention per word."""

from __future__ import annotations

import plotly.graph_objects as go

from dashapp.alignment import word_attention, word_saliency
from dashapp.figures.common import ACCENT, apply_theme, empty_figure, rounded, sequential_scale, token_labels
from dashapp.figures.heatmap import matrix_heatmap, resolution_note
from dashapp.figures.saliency import METHOD_NAMES
from interp.schema import Analysis


def word_saliency_figure(analysis: Analysis, method: str, theme: str | None = None) -> go.Figure:
    values = word_saliency(analysis, method)
    if values is None:
        return empty_figure(f"{METHOD_NAMES.get(method, method)} not computed yet", theme)
    fig = go.Figure(
        go.Bar(
            x=rounded(values),
            y=token_labels(analysis.words),
            orientation="h",
            marker_color=ACCENT,
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    return apply_theme(
        fig,
        theme,
        f"{METHOD_NAMES.get(method, method)} per word (share)",
        height=min(900, 140 + 22 * len(analysis.words)),
    )


def word_attention_figure(analysis: Analysis, layer: int, theme: str | None = None) -> go.Figure:
    matrix = word_attention(analysis, layer)
    if matrix is None:
        return empty_figure("attention not computed yet", theme)
    fig = matrix_heatmap(
        matrix,
        token_labels(analysis.words),
        "%{y} → %{x}: %{z:.3f}<extra></extra>",
        sequential_scale(theme),
        zmin=0,
        zmax=max(float(matrix.max()), 1e-6),
    )
    shown = min(layer, analysis.num_layers - 1)
    return apply_theme(
        fig,
        theme,
        f"Attention per word · layer {shown} · head average{resolution_note(len(analysis.words), None, zoomable=False)}",
        height=min(900, 220 + 18 * len(analysis.words)),
    )
