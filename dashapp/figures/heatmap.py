"""Square token × token heatmaps (attention of one layer and head, attention per word, sensitivity) and the
one helper that draws them all, downsampled beyond MAX_SIDE tokens and zoomable to full resolution.

A 512-token map is 263k cells (1.4 MB of JSON) of which a 900 px figure can show at most ~800 per axis
and a reader can resolve far fewer. Beyond MAX_SIDE tokens a map is sent as blocks of f × f tokens,
each the block's **maximum**, not its mean: attention is peaked (a few keys take most of a row), and a
mean over a block dilutes a single strong edge (a token attending to its neighbour, to [SEP]) into
the background, while the maximum keeps every strong edge visible at its strength; the hover says
so. Zooming (plotly's relayout) redraws the zoomed range from the server at full resolution once it
spans at most MAX_SIDE tokens, so what is sent per zoom stays at most MAX_SIDE² cells.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from dashapp.figures.common import (
    HIGHLIGHT,
    apply_theme,
    empty_figure,
    head_matrix,
    head_name,
    rounded,
    sequential_scale,
    token_labels,
)
from dashapp.figures.kinds import key_labels, key_segments, kind_title, query_segments
from dashapp.figures.pairs import NO_SENTENCE_B, cell_mask, lacks_sentence_b, pair_name
from dashapp.figures.tokens import readable_tokens
from interp.schema import Analysis

MAX_SIDE = 200  # cells per axis sent to the browser: a 512-token map goes as 171 × 171 blocks of 3 × 3
MAX_TICKS = {"y": 40, "x": 20}  # labelled ticks of a numeric (long) map: the x labels are slanted, wider
Zoom = dict[str, list[float]]  # {"x": [lo, hi], "y": [lo, hi]} in token coordinates (cell i spans i ± 0.5)


def zoom_range(relayout: dict[str, Any] | None) -> Zoom | None:
    """The zoomed ranges in plotly's relayoutData (None: the whole map, e.g. after a reset or autosize).
    An axis the event does not name stays whole."""
    zoom: Zoom = {}
    for axis in ("x", "y"):
        data = relayout or {}
        pair = data.get(f"{axis}axis.range") or [
            data.get(f"{axis}axis.range[0]"),
            data.get(f"{axis}axis.range[1]"),
        ]
        if all(isinstance(v, int | float) for v in pair):
            zoom[axis] = sorted(round(float(v), 1) for v in pair)
    return zoom or None


def block_max(matrix: np.ndarray, factor: int) -> np.ndarray:
    """The maximum of each factor × factor block (the last blocks may be smaller)."""
    if factor <= 1:
        return matrix
    rows, cols = matrix.shape
    padded = np.full((-(-rows // factor) * factor, -(-cols // factor) * factor), np.nan, dtype=np.float32)
    padded[:rows, :cols] = matrix
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    return np.fmax.reduce(np.fmax.reduce(blocks, axis=3), axis=1)  # NaN (padding, filtered cells) ignored


def _span(zoom: Zoom | None, axis: str, n: int) -> tuple[int, int]:
    """[start, stop) of the tokens an axis shows."""
    if not zoom or axis not in zoom:
        return 0, n
    lo, hi = zoom[axis]
    start, stop = max(0, math.floor(lo + 0.5)), min(n, math.ceil(hi + 0.5))
    return (start, stop) if stop > start else (0, n)


def _ticks(labels: list[str], start: int, stop: int, axis: str) -> dict[str, Any]:
    step = max(1, math.ceil((stop - start) / MAX_TICKS[axis]))
    shown = range(start, stop, step)
    return dict(tickmode="array", tickvals=list(shown), ticktext=[labels[i] for i in shown])


def matrix_heatmap(
    matrix: np.ndarray,
    labels: list[str],
    hovertemplate: str,
    colorscale: Any,
    zmin: float | None = None,
    zmax: float | None = None,
    zoom: Zoom | None = None,
    digits: int = 4,
    columns: list[str] | None = None,
) -> go.Figure:
    """A matrix, rows (y) down and columns (x) across, one `labels` entry per row (and per column, unless
    `columns` labels them: cross-attention's keys are other tokens).

    hovertemplate names the row %{y}, the column %{x} and the value %{z}. Short and unzoomed: category
    axes of the labels (what a click reads). Long or zoomed: numeric axes in token indices with labelled
    ticks, the zoomed range only, in blocks (their max) when it spans more than MAX_SIDE tokens."""
    columns = labels if columns is None else columns
    rows, cols = matrix.shape
    scale = dict(colorscale=colorscale, zmin=zmin, zmax=zmax)
    if max(rows, cols) <= MAX_SIDE and zoom is None:
        fig = go.Figure(
            go.Heatmap(z=rounded(matrix, digits), x=columns, y=labels, hovertemplate=hovertemplate, **scale)
        )
        fig.update_yaxes(autorange="reversed", type="category")
        fig.update_xaxes(type="category", tickangle=-60)
        return fig
    (r0, r1), (c0, c1) = _span(zoom, "y", rows), _span(zoom, "x", cols)
    factor = max(1, math.ceil(max(r1 - r0, c1 - c0) / MAX_SIDE))
    z = block_max(np.asarray(matrix[r0:r1, c0:c1], dtype=np.float32), factor)
    centre = (factor - 1) / 2  # a block's cell sits over its tokens
    template = hovertemplate.replace("%{y}", "#%{y:.0f}").replace("%{x}", "#%{x:.0f}")
    if factor > 1:
        template = f"max of {factor}×{factor} tokens around<br>" + template
    fig = go.Figure(
        go.Heatmap(
            z=rounded(z, digits),
            x0=c0 + centre,
            dx=factor,
            y0=r0 + centre,
            dy=factor,
            hovertemplate=template,
            **scale,
        )
    )
    # No explicit ranges: autorange shows what was sent (the zoomed range), and resetting the axes
    # (the modebar's home, a double click) reports autorange, which redraws the whole map.
    fig.update_yaxes(autorange="reversed", **_ticks(labels, r0, r1, "y"))
    fig.update_xaxes(tickangle=-60, **_ticks(columns, c0, c1, "x"))
    return fig


def resolution_note(n: int, zoom: Zoom | None, zoomable: bool = True) -> str:
    """The title's note of how much of a map is on show and at what resolution (and, where the page
    redraws a zoom, that zooming gives full resolution)."""
    if n <= MAX_SIDE and zoom is None:
        return ""
    (r0, r1), (c0, c1) = _span(zoom, "y", n), _span(zoom, "x", n)
    factor = max(1, math.ceil(max(r1 - r0, c1 - c0) / MAX_SIDE))
    where = "" if zoom is None else f" · rows {r0}–{r1 - 1}, columns {c0}–{c1 - 1}"
    how = "full resolution" if factor == 1 else f"{factor}×{factor} block max"
    how += " (zoom: full resolution)" if factor > 1 and zoomable else ""
    return f"{where} · {how}"


def heatmap_figure(
    analysis: Analysis,
    layer: int,
    head: int | None,
    token: int | None = None,
    theme: str | None = None,
    zoom: Zoom | None = None,
    pair: str | None = None,
    key: int | None = None,
) -> go.Figure:
    """`token`: the selected query's row and (unless `key` names another) column are outlined; `pair`: a
    sentence-pair filter (the cells it leaves out are blank)."""
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    queries, keys = query_segments(analysis), key_segments(analysis)
    if lacks_sentence_b(queries, keys, pair):
        return empty_figure(NO_SENTENCE_B, theme)
    labels = token_labels(readable_tokens(analysis))
    columns = token_labels(key_labels(analysis))
    matrix = np.asarray(head_matrix(analysis, layer, head), dtype=np.float32)
    keep = cell_mask(queries, keys, pair)
    if keep is not None:
        matrix = np.where(keep, matrix, np.nan)
    top = float(np.nanmax(matrix)) if np.isfinite(matrix).any() else 0.0
    # The scale starts at 0 (both ends given, or plotly ignores zmin): near-uniform attention looks uniform.
    fig = matrix_heatmap(
        matrix,
        labels,
        "from %{y}<br>to %{x}<br>%{z:.3f}<extra></extra>",
        sequential_scale(theme),
        zmin=0,
        zmax=max(top, 1e-6),
        zoom=zoom,
        columns=columns,
    )
    fig.update_layout(shapes=token_outline(len(labels), token, len(columns), key))
    fig.update_yaxes(title="from (query)")
    fig.update_xaxes(title="to (key)")
    size = min(900, 250 + 14 * max(len(labels), len(columns)))
    pairs = "" if not pair or pair == "all" else f" · {pair_name(pair)}"
    note = resolution_note(max(len(labels), len(columns)), zoom)
    title = f"Attention · layer {layer}{kind_title(analysis)} · {head_name(head)}{pairs}{note}"
    return apply_theme(fig, theme, title, height=size)


def _rect(x0: float, x1: float, y0: float, y1: float) -> dict:
    return dict(
        type="rect", xref="x", yref="y", x0=x0, x1=x1, y0=y0, y1=y1, line=dict(color=HIGHLIGHT, width=2)
    )


def token_outline(
    n_rows: int, token: int | None, n_columns: int | None = None, key: int | None = None
) -> list[dict]:
    """The selected query's row (where it attends) and the selected key's column (who attends to it),
    outlined; the key is the query's own token unless the keys are other tokens (cross-attention)."""
    n_columns = n_rows if n_columns is None else n_columns
    if key is None and n_columns == n_rows:
        key = token
    shapes = []
    if token is not None and 0 <= token < n_rows:
        shapes.append(_rect(-0.5, n_columns - 0.5, token - 0.5, token + 0.5))
    if key is not None and 0 <= key < n_columns:
        shapes.append(_rect(key - 0.5, key + 0.5, -0.5, n_rows - 0.5))
    return shapes
