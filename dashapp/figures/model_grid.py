"""Model overview (BertViz "model view"): a layers × heads grid of small attention maps.

The grid is one heatmap mosaic of downsampled thumbnails, so a 12 × 12 model at 512 tokens
costs the browser a few hundred kilobytes. An invisible marker at each cell's centre carries
the head statistics on hover and the (layer, head) a click selects.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashapp.figures.architecture import architecture_notes, head_label, layer_label
from dashapp.figures.common import HIGHLIGHT, apply_theme, empty_figure, escape, rounded, sequential_scale
from dashapp.figures.kinds import kind_title
from interp.schema import Analysis
from interp.thumbnails import downsample, thumb_size

CELL_MAX = 110  # px of one thumbnail at most (a 3 × 4 model does not need a page of its own)
STAT_NAMES = {"entropy": "entropy", "special_share": "special share", "mean_distance": "mean distance"}


def mosaic(
    attention: np.ndarray, size: int, layers: list[int] | None = None, heads: list[int] | None = None
) -> np.ndarray:
    """[L, H, n, m] attention (or [L, H, s, s] stored thumbnails) -> one 2-D image of the chosen layers ×
    heads thumbnails (default: all), separated by one NaN gap."""
    layers = list(range(attention.shape[0])) if layers is None else layers
    heads = list(range(attention.shape[1])) if heads is None else heads
    step = size + 1
    image = np.full((len(layers) * step - 1, len(heads) * step - 1), np.nan, dtype=np.float32)
    for row, layer in enumerate(layers):
        maps = attention[layer]  # one layer at a time: a rebuilt stack holds only a few
        for column, head in enumerate(heads):
            thumb = downsample(np.asarray(maps[head], dtype=np.float32), size)
            image[row * step : row * step + size, column * step : column * step + size] = thumb / max(
                thumb.max(), 1e-9
            )
    return image


def _layout(analysis: Analysis, layers: list[int] | None, heads: list[int] | None) -> tuple[list, list, int]:
    """The rows (layers) and columns (heads) shown, and a thumbnail's side in cells."""
    rows = [l for l in range(analysis.num_layers) if layers is None or l in layers]
    columns = [h for h in range(analysis.num_heads) if heads is None or h in heads]
    n = max(analysis.attention.shape[-2:])
    return rows, columns, thumb_size(n, max(1, len(rows)), max(1, len(columns)))


def grid_outline(
    analysis: Analysis,
    layer: int | None,
    head: int | None,
    layers: list[int] | None = None,
    heads: list[int] | None = None,
) -> list[dict]:
    """The selected layer's cells outlined: the selected head's, or every head's (the head average)."""
    rows, columns, size = _layout(analysis, layers, heads)
    if layer not in rows:
        return []
    r, step, half = rows.index(layer), size + 1, size / 2
    return [
        dict(
            type="rect",
            x0=c * step - 0.5,
            x1=c * step - 0.5 + 2 * half,
            y0=r * step - 0.5,
            y1=r * step - 0.5 + 2 * half,
            line=dict(color=HIGHLIGHT, width=2),
        )
        for c, h in enumerate(columns)
        if head is None or h == head
    ]


def model_grid_figure(
    analysis: Analysis,
    layer: int | None = None,
    head: int | None = None,
    theme: str | None = None,
    layers: list[int] | None = None,
    heads: list[int] | None = None,
) -> go.Figure:
    """`layers` / `heads`: only these (BertViz's include_layers / include_heads); None: all of them."""
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    rows, columns, size = _layout(analysis, layers, heads)
    if not rows or not columns:
        return empty_figure("no layer or head chosen for the overview", theme)
    L, H = len(rows), len(columns)
    step = size + 1
    fig = go.Figure(
        go.Heatmap(
            z=rounded(mosaic(_thumbs(analysis, size), size, rows, columns), 3),
            colorscale=sequential_scale(theme),
            showscale=False,
            hoverinfo="skip",
        )
    )
    arch = analysis.architecture or {}
    centers = [(l, h) for l in rows for h in columns]
    at = {
        (l, h): (r * step + (size - 1) / 2, c * step + (size - 1) / 2)
        for r, l in enumerate(rows)
        for c, h in enumerate(columns)
    }
    hover = []
    for l, h in centers:
        stats = "".join(
            f"<br>{label}: {float(analysis.head_stats[name][l, h]):.3f}"
            for name, label in STAT_NAMES.items()
            if name in analysis.head_stats
        )
        hover.append(f"{layer_label(arch, l)} · {head_label(arch, h)}{stats}")
    fig.add_trace(
        go.Scatter(
            x=[at[cell][1] for cell in centers],
            y=[at[cell][0] for cell in centers],
            mode="markers",
            marker=dict(size=max(6, 200 // max(L, H)), opacity=0),
            customdata=centers,
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_layout(shapes=grid_outline(analysis, layer, head, layers, heads))
    fig.update_xaxes(
        tickvals=[c * step + (size - 1) / 2 for c in range(H)],
        ticktext=[head_label(arch, h, short=True) for h in columns],
        showgrid=False,
        zeroline=False,
        side="top",
    )
    fig.update_yaxes(
        tickvals=[r * step + (size - 1) / 2 for r in range(L)],
        ticktext=[layer_label(arch, l, short=True) for l in rows],
        showgrid=False,
        zeroline=False,
        autorange="reversed",
        scaleanchor="x",
    )
    # Square thumbnails across a full-width card (about 600 px of it beside the preview): the height follows
    # the grid's shape, up to CELL_MAX px a cell, so a 6 × 12 model's thumbnails are ~50 px, not ~30.
    cell = min(CELL_MAX, 600 / H)
    notes = architecture_notes(arch)  # GQA, sliding windows, soft-caps: what the grid's labels abbreviate
    return apply_theme(
        fig,
        theme,
        f"Model overview{kind_title(analysis)} · layers × heads (click a cell; hover for a larger view)"
        + "".join(f"<br><sup>{escape(note)}</sup>" for note in notes),
        subtitle_lines=len(notes),
        height=int(min(1400, 130 + cell * L)),
        hovermode="closest",
        hoverdistance=-1,
    )


def _thumbs(analysis: Analysis, size: int) -> np.ndarray:
    """The stored thumbnails where they are at this size (always, for q/k analyses), else the attention."""
    thumbs = analysis.attention_thumbs
    if thumbs is not None and thumbs.shape[-1] >= size:
        return thumbs
    return analysis.attention  # type: ignore[return-value]
