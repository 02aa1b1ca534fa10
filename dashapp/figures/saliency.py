"""Saliency: every method side by side, one bar per token (IG shows its completeness delta)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashapp.figures.common import ACCENT, HIGHLIGHT, apply_theme, empty_figure, escape, rounded, token_labels
from interp.schema import SALIENCY_METHODS, Analysis

METHOD_NAMES = {
    "grad_norm": "gradient norm",
    "grad_x_input": "gradient × input",
    "integrated_gradients": "integrated gradients",
    "attention_rollout": "attention rollout",
}


def method_title(method: str, info: dict[str, float] | None) -> str:
    extras = ", ".join(f"{k} {v:.3g}" for k, v in (info or {}).items() if isinstance(v, (int, float)))
    return METHOD_NAMES.get(method, method) + (f" ({extras})" if extras else "")


def saliency_figure(analysis: Analysis, token: int | None = None, theme: str | None = None) -> go.Figure:
    methods = [m for m in SALIENCY_METHODS if m in analysis.saliency]
    if not methods:
        return empty_figure("saliency not computed yet", theme)
    labels = token_labels(analysis.tokens)
    fig = make_subplots(rows=1, cols=len(methods), shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[method_title(m, analysis.saliency_info.get(m)) for m in methods])
    colors = [HIGHLIGHT if i == token else ACCENT for i in range(analysis.n_tokens)]
    for col, method in enumerate(methods, start=1):
        fig.add_trace(go.Bar(x=rounded(analysis.saliency[method], 5), y=labels, orientation="h", marker_color=colors,
                             customdata=list(range(analysis.n_tokens)), name=METHOD_NAMES.get(method, method),
                             hovertemplate="%{y}: %{x:.4g}<extra>" + method + "</extra>"), row=1, col=col)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_annotations(font_size=11)
    target = (analysis.target or {}).get("label")
    title = "Saliency" + (f" for {escape(target)}" if target is not None else "")
    return apply_theme(fig, theme, title, height=min(1600, 160 + 20 * analysis.n_tokens), showlegend=False)
