"""Shared pieces of every figure: themes, escaped token labels, the modebar export config."""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from interp.schema import Analysis

IMAGE_FORMATS = ("png", "svg")
TEMPLATES = {"light": "plotly_white", "dark": "plotly_dark"}
# Figures sit on Bootstrap cards: in dark mode their background is the card's, not plotly_dark's black.
DARK_BACKGROUND = "#212529"
HIGHLIGHT = "#ff7f0e"
ACCENT = "#1f77b4"
ACCENT_ON_DARK = "#6baed6"  # the accent blue, light enough to stand out on the dark card
# Attention scales: zero is the background. On a dark card white zeros would glare, so the dark scale
# rises from the card's colour to a light blue.
DARK_SEQUENTIAL = [[0.0, DARK_BACKGROUND], [0.4, "#1f4e79"], [0.75, "#3a86c8"], [1.0, "#9ecae1"]]
MARGIN = dict(l=10, r=10, t=64, b=10)
MODEBAR_HEIGHT = 28  # the modebar's row at the top; the title sits below it
MODEBAR_REMOVED = (
    "select2d",
    "lasso2d",
    "zoomIn2d",
    "zoomOut2d",
    "autoScale2d",
    "sendDataToCloud",
    "sendChartToCloud",
    "editInChartStudio",
)
# Team text never one click from leaving the building: plotly.js offers to upload a figure to Plotly Cloud
# (its "Share chart…" button, on by default) unless told not to, on the page and in an exported report.
NO_CLOUD = {"showSendToCloud": False, "plotlyServerURL": ""}


def graph_config(name: str, image_format: str = "png") -> dict[str, Any]:
    """dcc.Graph config: the modebar's camera button downloads PNG or SVG, named after the view.

    Only export, zoom, pan and reset: a short modebar fits in the top margin, beside the title,
    where it covers no colour bar, bar label or overview cell (on touch screens it always shows).
    """
    fmt = image_format if image_format in IMAGE_FORMATS else "png"
    return {
        **NO_CLOUD,
        "showEditInChartStudio": False,  # the cloud links of plotly.js before 3
        "showLink": False,
        "displaylogo": False,
        "modeBarButtonsToRemove": list(MODEBAR_REMOVED),
        "toImageButtonOptions": {"format": fmt, "filename": f"interpboard-{name}", "scale": 2},
    }


def escape(text: str) -> str:
    """Plotly renders a subset of HTML tags in labels; escaping shows user text as typed."""
    return html.escape(str(text), quote=False)


def token_labels(tokens: Sequence[str]) -> list[str]:
    """Unique, escaped category labels ("3 the"): plotly merges repeated category names."""
    return [f"{i} {escape(t)}" for i, t in enumerate(tokens)]


def label_index(label: Any) -> int | None:
    """The token index encoded in a category label by `token_labels` (or a numeric coordinate: a long
    map's cell of a block of tokens is at their centre: a click on it selects a token of the block)."""
    try:
        return int(float(str(label).split(" ", 1)[0]))
    except ValueError:
        return None


def apply_theme(
    fig: go.Figure, theme: str | None, title: str | None = None, subtitle_lines: int = 0, **layout: Any
) -> go.Figure:
    """Template, margins and title. The top margin holds the modebar's row, then the title, then
    `subtitle_lines` lines of subplot titles, so none of them covers another."""
    title_layout = {
        "text": title,
        "font": {"size": 14},
        "x": 0.01,
        "xanchor": "left",
        "yref": "container",
        "y": 1,
        "yanchor": "top",
        "pad": {"t": MODEBAR_HEIGHT},
    }
    # The template is validated once (template()); validating its copy into every figure took 15-45 ms of
    # each 512-token view's 50-100. Plotly's own switch (BaseFigure._validate), off for this one assignment.
    validate, fig._validate = fig._validate, False
    try:
        fig.update_layout(template=template(theme))
    finally:
        fig._validate = validate
    fig.update_layout(
        margin={**MARGIN, "t": MARGIN["t"] + 16 * subtitle_lines},
        title=title_layout if title else None,
        **layout,
    )
    if theme == "dark":
        fig.update_layout(paper_bgcolor=DARK_BACKGROUND, plot_bgcolor=DARK_BACKGROUND)
    return fig


@functools.cache
def template(theme: str | None) -> go.layout.Template:
    """The theme's plotly template, validated once (by its name, each figure validated a copy anew)."""
    return go.layout.Template(pio.templates[TEMPLATES.get(theme or "light", "plotly_white")])


def sequential_scale(theme: str | None) -> str | list:
    """The colour scale of attention-like values (0 … max) for the theme."""
    return DARK_SEQUENTIAL if theme == "dark" else "Blues"


def accent(theme: str | None) -> str:
    return ACCENT_ON_DARK if theme == "dark" else ACCENT


def empty_figure(message: str, theme: str | None = None) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=escape(message), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return apply_theme(fig, theme, height=200)


def head_matrix(analysis: Analysis, layer: int, head: int | None) -> np.ndarray:
    """One layer's attention [n, n] for one head, or averaged over heads when head is None."""
    assert analysis.attention is not None
    layer_att = analysis.attention[layer]
    return layer_att.mean(axis=0) if head is None else layer_att[head]


def head_name(head: int | None) -> str:
    return "head average" if head is None else f"head {head}"


def rounded(values: np.ndarray, digits: int = 4) -> np.ndarray:
    """Fewer bytes to the browser: float32, rounded (plotly sends numpy arrays as binary) to `digits`
    decimals, more where the largest magnitude is small: a saliency of ~1e-7 keeps `digits` significant
    figures instead of rounding to zero."""
    array = np.asarray(values, dtype=np.float32)
    top = float(np.nanmax(np.abs(array), initial=0.0)) if array.size else 0.0
    if 0 < top < np.inf:
        digits = max(digits, digits - 1 - math.floor(math.log10(top)))
    return np.round(array, digits)


def row_outline(n_tokens: int, token: int | None) -> list[dict]:
    """A square-matrix view's outline of the selected token's row; none when no token is selected."""
    if token is None or not 0 <= token < n_tokens:
        return []
    return [
        dict(
            type="rect",
            xref="x",
            yref="y",
            x0=-0.5,
            x1=n_tokens - 0.5,
            y0=token - 0.5,
            y1=token + 0.5,
            line=dict(color=HIGHLIGHT, width=2),
        )
    ]
