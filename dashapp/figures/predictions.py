"""Predictions: top-k tokens (mlm, causal-lm), class probabilities, or a similarity score; for a seq2seq
target or a generated token, the top-k at the selected step."""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go

from dashapp.figures.common import ACCENT, HIGHLIGHT, apply_theme, empty_figure, escape
from dashapp.figures.tokens import readable_predictions
from interp.schema import Analysis


def at_step(analysis: Analysis, step: int | None) -> tuple[Analysis, str]:
    """The analysis with the predictions (and target) of step `step` (None: the first), and the title's note
    of it; the analysis itself where it has no steps."""
    if not analysis.steps:
        return analysis, ""
    step = step if step is not None and 0 <= step < len(analysis.steps) else 0
    chosen = analysis.steps[step]
    label = chosen.get("label") or chosen.get("token")
    kind = "target" if analysis.target_tokens is not None else "generated"
    return dataclasses.replace(
        analysis,
        predictions=list(chosen.get("predictions") or []),
        target={"label": label, "index": chosen.get("token_id")},
    ), f" · {kind} step {step}"


def predictions_figure(analysis: Analysis, theme: str | None = None, step: int | None = None) -> go.Figure:
    """`step`: the target (seq2seq) or generated token whose top-k to show (None: the first)."""
    analysis, note = at_step(analysis, step)
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
    title = f"{escape(analysis.request.model)}{note}" + (
        f" · saliency explains {escape(target)}" if target is not None else ""
    )
    return apply_theme(fig, theme, title, height=max(180, 60 + 26 * len(labels)), showlegend=False)
