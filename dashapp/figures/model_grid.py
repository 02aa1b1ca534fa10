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
from interp.schema import Analysis
from interp.thumbnails import downsample, thumb_size

CELL_MAX = 110  # px of one thumbnail at most (a 3 × 4 model does not need a page of its own)
STAT_NAMES = {"entropy": "entropy", "special_share": "special share", "mean_distance": "mean distance"}


def mosaic(attention: np.ndarray, size: int) -> np.ndarray:
    """[L, H, n, n] attention (or [L, H, s, s] stored thumbnails) -> one 2-D image of L × H thumbnails
    separated by one NaN gap."""
    L, H = attention.shape[:2]
    step = size + 1
    image = np.full((L * step - 1, H * step - 1), np.nan, dtype=np.float32)
    for layer in range(L):
        maps = attention[layer]  # one layer at a time: a rebuilt stack holds only a few
        for head in range(H):
            thumb = downsample(np.asarray(maps[head], dtype=np.float32), size)
            image[layer * step : layer * step + size, head * step : head * step + size] = thumb / max(
                thumb.max(), 1e-9
            )
    return image


def model_grid_figure(
    analysis: Analysis, layer: int | None = None, head: int | None = None, theme: str | None = None
) -> go.Figure:
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    L, H = analysis.num_layers, analysis.num_heads
    size = thumb_size(analysis.n_tokens, L, H)
    step = size + 1
    fig = go.Figure(
        go.Heatmap(
            z=rounded(mosaic(_thumbs(analysis, size), size), 3),
            colorscale=sequential_scale(theme),
            showscale=False,
            hoverinfo="skip",
        )
    )
    arch = analysis.architecture or {}
    centers = [(l, h) for l in range(L) for h in range(H)]
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
            x=[h * step + (size - 1) / 2 for _, h in centers],
            y=[l * step + (size - 1) / 2 for l, _ in centers],
            mode="markers",
            marker=dict(size=max(6, 200 // max(L, H)), opacity=0),
            customdata=centers,
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            showlegend=False,
        )
    )
    if layer is not None:
        heads = range(H) if head is None else [head]
        for h in heads:
            fig.add_shape(
                type="rect",
                x0=h * step - 0.5,
                x1=h * step + size - 0.5,
                y0=layer * step - 0.5,
                y1=layer * step + size - 0.5,
                line=dict(color=HIGHLIGHT, width=2),
            )
    fig.update_xaxes(
        tickvals=[h * step + (size - 1) / 2 for h in range(H)],
        ticktext=[head_label(arch, h, short=True) for h in range(H)],
        showgrid=False,
        zeroline=False,
        side="top",
    )
    fig.update_yaxes(
        tickvals=[l * step + (size - 1) / 2 for l in range(L)],
        ticktext=[layer_label(arch, l, short=True) for l in range(L)],
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
        "Model overview · layers × heads (click a cell; hover for a larger view)"
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
