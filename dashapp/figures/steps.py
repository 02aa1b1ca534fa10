"""The generated (causal-lm) or target (seq2seq) tokens as a clickable strip: a click selects that step,
and the saliency view then explains that step's token."""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go

from dashapp.figures.common import HIGHLIGHT, accent, apply_theme, empty_figure, escape
from dashapp.figures.tokens import readable_label
from interp.schema import Analysis

NO_STEPS = "no generated or target tokens: a seq2seq model, or causal-lm with generation, has them"


def step_labels(analysis: Analysis) -> list[str]:
    return [escape(readable_label(s.get("label") or s.get("token") or "")) for s in analysis.steps]


def predicting_row(analysis: Analysis, step: int) -> int | None:
    """The token (row of the attention views) whose attention predicted generated token `step`; None for
    seq2seq, whose decoder rows are the steps themselves (dashapp.figures.kinds)."""
    if analysis.target_tokens is not None:
        return None
    position = analysis.steps[step].get("position")
    return position if isinstance(position, int) and 0 <= position < analysis.n_tokens else None


def step_strip_figure(analysis: Analysis, step: int | None, theme: str | None = None) -> go.Figure:
    if not analysis.steps:
        return empty_figure(NO_STEPS, theme)
    labels = step_labels(analysis)
    hover = [
        "<br>".join(
            f"{escape(str(p.get('label')))}: {float(p.get('score', 0)):.3f}" for p in s["predictions"][:5]
        )
        for s in analysis.steps
    ]
    fig = go.Figure(
        go.Scatter(
            x=list(range(len(labels))),
            y=[0] * len(labels),
            mode="markers+text",
            text=labels,
            textposition="top center",
            marker=dict(
                size=14,
                symbol="square",
                color=[HIGHLIGHT if t == step else accent(theme) for t in range(len(labels))],
            ),
            # [step, the attention row that predicted it]: a generated token's row is selected with it
            customdata=[[t, predicting_row(analysis, t)] for t in range(len(labels))],
            hovertext=hover,
            hovertemplate="step %{customdata[0]}: %{text}<br>%{hovertext}<extra></extra>",
        )
    )
    fig.update_xaxes(visible=False, range=[-0.8, len(labels) - 0.2])
    fig.update_yaxes(visible=False, range=[-0.5, 1])
    kind = "Target" if analysis.target_tokens is not None else "Generated"
    chosen = f" · step {step}: {labels[step]}" if step is not None and 0 <= step < len(labels) else ""
    return apply_theme(
        fig, theme, f"{kind} tokens · click one to explain it{chosen}", height=170, clickmode="event"
    )


def at_step(analysis: Analysis, step: int | None) -> Analysis:
    """The analysis with its saliency replaced by one step's row (on the tokens the other views show;
    seq2seq: the source tokens); the analysis itself when no step is chosen or there is none. seq2seq has
    saliency per step only: its first step stands for the whole, as generation's does."""
    if step is None and not analysis.saliency and analysis.step_saliency:
        step = 0
    if step is None or not analysis.step_saliency or not 0 <= step < len(analysis.steps):
        return analysis
    label = analysis.steps[step].get("label") or analysis.steps[step].get("token")
    return dataclasses.replace(
        analysis,
        saliency={m: rows[step][: analysis.n_tokens] for m, rows in analysis.step_saliency.items()},
        saliency_info={},
        target={"label": f"{label} (step {step})", "index": analysis.steps[step].get("token_id")},
    )
