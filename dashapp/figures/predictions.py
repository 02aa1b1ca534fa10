"""Predictions: top-k tokens (mlm, causal-lm), class probabilities, or a similarity score."""

from __future__ import annotations

import plotly.graph_objects as go

from dashapp.figures.common import ACCENT, HIGHLIGHT, apply_theme, empty_figure, escape
from dashapp.figures.tokens import readable_predictions
from interp.schema import Analysis


def predictions_figure(analysis: Analysis, theme: str | None = None) -> go.Figure:
    if not analysis.predictions:
        return empty_figure("no predictions yet", theme)
    labels = [escape(label) for label in readable_predictions(analysis)]
    scores = [float(p["score"]) for p in analysis.predictions]
    target = (analysis.target or {}).get("label")
    colors = [HIGHLIGHT if p["label"] == target else ACCENT for p in analysis.predictions]
    fig = go.Figure(
        go.Bar(
            x=scores,
            y=labels,
            orientation="h",
            marker_color=colors,
            text=[f"{s:.3f}" for s in scores],
            textposition="auto",
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    title = f"{escape(analysis.request.model)}" + (
        f" · saliency explains {escape(target)}" if target is not None else ""
    )
    return apply_theme(fig, theme, title, height=max(180, 60 + 26 * len(labels)), showlegend=False)
