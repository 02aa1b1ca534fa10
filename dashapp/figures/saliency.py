"""Saliency: every method side by side, one bar per token (IG shows its completeness delta)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashapp.figures.common import (
    ACCENT,
    HIGHLIGHT,
    apply_theme,
    empty_figure,
    escape,
    rounded,
    template,
    token_labels,
)
from dashapp.figures.tokens import readable_tokens
from interp.schema import SALIENCY_METHODS, Analysis

METHOD_NAMES = {
    "grad_norm": "gradient norm",
    "grad_x_input": "gradient × input",
    "integrated_gradients": "integrated gradients",
    "attention_rollout": "attention rollout",
}


UNCHOSEN_OPACITY = 0.4  # the methods other than the chosen one stay readable, but step back
# A few bars (the read position's own gradient: [MASK], [CLS]) can be 100x the rest, which then draw as
# hairlines. Bars over SPIKE times the longest of the others are cut to CUT_AT times it: hatched, value on them.
SPIKE, CUT_AT, SPIKE_SHARE = 4.0, 1.3, 0.02  # at most 2% of the tokens (at least one) count as spikes
INFO_NAMES = {"delta": "Δ", "score_difference": "f(x)−f(x′)", "steps": "steps"}  # IG's completeness check


def method_title(method: str, info: dict[str, float] | None) -> str:
    """The method's name, and its numbers (IG: completeness delta) small on a second line."""
    extras = " · ".join(
        f"{INFO_NAMES.get(k, k.replace('_', ' '))} {v:.3g}"
        for k, v in (info or {}).items()
        if isinstance(v, (int, float))
    )
    name = METHOD_NAMES.get(method, method)
    return f"{name}<br><span style='font-size:10px'>{extras}</span>" if extras else name


def saliency_figure(
    analysis: Analysis, token: int | None = None, theme: str | None = None, method: str | None = None
) -> go.Figure:
    """Every method's bars; the chosen `method` (it colours the token strip) marked, the others faint."""
    methods = [m for m in SALIENCY_METHODS if m in analysis.saliency]
    if not methods:
        return empty_figure("saliency not computed yet", theme)
    labels = token_labels(readable_tokens(analysis))
    titles = [
        f"<b>▶ {method_title(m, analysis.saliency_info.get(m))}</b>"
        if m == method
        else method_title(m, analysis.saliency_info.get(m))
        for m in methods
    ]
    fig = make_subplots(
        rows=1, cols=len(methods), shared_yaxes=True, horizontal_spacing=0.03, subplot_titles=titles
    )
    for col, name in enumerate(methods, start=1):
        values = np.asarray(analysis.saliency[name], dtype=np.float32)
        drawn, cut = cut_spikes(values)
        chosen = method not in methods or name == method
        bar = go.Bar(
            x=rounded(drawn, 5),
            y=labels,
            orientation="h",
            marker_color=ACCENT,
            customdata=list(range(analysis.n_tokens)),
            name=METHOD_NAMES.get(name, name),
            # the bars' opacity, not the trace's: a cut bar's value written on it stays readable
            marker_opacity=1.0 if chosen else UNCHOSEN_OPACITY,
            hovertemplate="%{y}: %{x:.4g}<extra>" + name + "</extra>",
        )
        if cut.any():  # the true values in the hover, and written on the bars that were cut
            shown = [f"{v:.4g}" for v in values.tolist()]
            bar.update(
                hovertext=shown,
                hovertemplate="%{y}: %{hovertext}<extra>" + name + "</extra>",
                text=[t if c else "" for t, c in zip(shown, cut)],
                textposition="inside",
                insidetextanchor="end",
                marker_pattern_shape=["/" if c else "" for c in cut],
                # on a faint bar plotly's contrast pick (white on blue) would vanish: the page's own text colour
                insidetextfont_color=None if chosen else template(theme).layout.font.color,
            )
        fig.add_trace(bar, row=1, col=col)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(shapes=saliency_band(analysis, token))
    fig.update_annotations(font_size=11)
    target = (analysis.target or {}).get("label")
    title = "Saliency" + (f" for {escape(target)}" if target is not None else "")
    lines = 2 if any("<br>" in t for t in titles) else 1
    return apply_theme(
        fig,
        theme,
        title,
        subtitle_lines=lines,
        height=min(1600, 190 + 20 * analysis.n_tokens),
        showlegend=False,
    )


def cut_spikes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values as drawn, and which were cut: where the largest magnitudes (at most SPIKE_SHARE of the
    tokens) exceed SPIKE times the largest of the rest, every bar over CUT_AT times that is drawn at it."""
    magnitude = np.abs(values)
    spikes = max(1, math.ceil(SPIKE_SHARE * len(values)))
    cut = np.zeros(len(values), dtype=bool)
    if len(values) <= spikes:
        return values, cut
    rest = float(np.partition(magnitude, -spikes - 1)[-spikes - 1])  # the largest but the spikes
    if rest <= 0 or magnitude.max() <= SPIKE * rest:
        return values, cut
    limit = CUT_AT * rest
    cut = magnitude > limit
    return np.where(cut, np.sign(values) * limit, values), cut


def saliency_band(analysis: Analysis, token: int | None) -> list[dict] | None:
    """The selected token's row across every method, a band behind the bars; None before saliency exists.

    A band, not recoloured bars: the browser moves two shapes in ~20 ms, restyling 4 × 512 bars takes 400."""
    if not any(m in analysis.saliency for m in SALIENCY_METHODS):
        return None
    if token is None or not 0 <= token < analysis.n_tokens:
        return []
    band = dict(type="rect", xref="paper", yref="y", x0=0, x1=1, y0=token - 0.5, y1=token + 0.5)
    return [
        dict(band, layer="below", fillcolor=HIGHLIGHT, opacity=0.3, line_width=0),
        dict(band, line=dict(color=HIGHLIGHT, width=1.5)),
    ]
