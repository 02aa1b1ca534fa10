"""Logit lens: per layer, the top tokens its residual stream at the prediction gives through the model's own
vocabulary head, and the target's probability and rank there (interp.logit_lens). Rows are layers, linked to
the layer selection: a click on a row selects its layer, and the selected layer is outlined."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashapp.figures.architecture import layer_label
from dashapp.figures.common import (
    HIGHLIGHT,
    accent,
    apply_theme,
    empty_figure,
    escape,
    rounded,
    sequential_scale,
)
from dashapp.figures.tokens import is_byte_level, readable_vocabulary_label
from interp.schema import Analysis

NO_LENS = (
    "no logit lens: it reads a model's vocabulary at the predicted position, so only masked-word and "
    "next-token analyses have one"
)
MAX_COLUMNS = 10  # tokens per layer shown (a request may ask for up to 100; the hover of a cell is enough)


def logit_lens_figure(analysis: Analysis, layer: int | None, theme: str | None = None) -> go.Figure:
    lens = analysis.logit_lens
    if not lens:
        return empty_figure(NO_LENS, theme)
    L = len(lens)
    byte_level = is_byte_level(analysis.tokens, analysis.special_tokens)
    k = min(MAX_COLUMNS, max(len(row) for row in lens))
    probs = np.full((L, k), np.nan, dtype=np.float32)
    words = np.full((L, k), "", dtype=object)
    for l, row in enumerate(lens):
        for r, entry in enumerate(row[:k]):
            probs[l, r] = float(entry["score"])
            words[l, r] = escape(readable_vocabulary_label(str(entry["label"]), byte_level))
    layers = list(range(L))
    target = analysis.target or {}
    about = analysis.logit_lens_target or []
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.8, 0.2],
        horizontal_spacing=0.02,
        subplot_titles=(
            f"top {k} tokens of each layer (colour: probability)",
            f"target {escape(readable_vocabulary_label(str(target.get('label', '')), byte_level))}: probability, rank",
        ),
    )
    fig.add_trace(
        go.Heatmap(
            z=rounded(probs),
            x=[f"#{r + 1}" for r in range(k)],
            y=layers,
            text=words,
            texttemplate="%{text}",
            textfont={"size": 11},
            customdata=np.repeat(np.array(layers)[:, None], k, axis=1),
            colorscale=sequential_scale(theme),
            zmin=0,
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate="layer %{y} · %{x}: %{text} · p = %{z:.4f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    if about:
        fig.add_trace(
            go.Bar(
                x=[round(float(t["score"]), 5) for t in about],
                y=layers[: len(about)],
                orientation="h",
                text=[f"#{int(t['rank'])}" for t in about],
                textposition="outside",  # in the theme's text colour, legible on either bar colour
                cliponaxis=False,
                customdata=layers[: len(about)],
                marker_color=[HIGHLIGHT if l == layer else accent(theme) for l in layers[: len(about)]],
                hovertemplate="layer %{y}: target p = %{x:.4f}, rank %{text}<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    if layer is not None and 0 <= layer < L:
        fig.add_shape(
            type="rect",
            xref="x domain",
            yref="y",
            x0=0,
            x1=1,
            y0=layer - 0.5,
            y1=layer + 0.5,
            line={"color": HIGHLIGHT, "width": 3},
        )
    ticks = [layer_label(analysis.architecture, l, short=True) for l in layers]
    ticks[-1] += " = output"  # the last layer's lens is the model's own prediction
    fig.update_yaxes(tickvals=layers, ticktext=ticks, autorange="reversed", row=1, col=1)
    fig.update_xaxes(range=[0, max([float(t["score"]) for t in about] + [1e-6]) * 1.5], row=1, col=2)
    fig.update_annotations(font_size=11)
    cap = (analysis.architecture or {}).get("final_logit_softcap")
    title = (
        f"Logit lens · {escape(analysis.request.model)} · layer {layer if layer is not None else 0} selected"
    )
    if cap:
        title += f" · final logits soft-capped at {cap:g}"
    return apply_theme(fig, theme, title, subtitle_lines=1, height=max(260, 130 + 28 * L), showlegend=False)
