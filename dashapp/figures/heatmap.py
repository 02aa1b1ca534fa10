"""Attention heatmap of one layer and one head (or the head average): queries down, keys across."""

from __future__ import annotations

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


def heatmap_figure(
    analysis: Analysis,
    layer: int,
    head: int | None,
    token: int | None = None,
    theme: str | None = None,
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
    fig = go.Figure(
        go.Heatmap(
            z=rounded(matrix),
            x=columns,
            y=labels,
            colorscale=sequential_scale(theme),
            zmin=0,
            zmax=max(top, 1e-6),
            hovertemplate="from %{y}<br>to %{x}<br>%{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(shapes=token_outline(len(labels), token, len(columns), key))
    fig.update_yaxes(autorange="reversed", type="category", title="from (query)")
    fig.update_xaxes(type="category", title="to (key)", tickangle=-60)
    size = min(900, 250 + 14 * max(len(labels), len(columns)))
    pairs = "" if not pair or pair == "all" else f" · {pair_name(pair)}"
    title = f"Attention · layer {layer}{kind_title(analysis)} · {head_name(head)}{pairs}"
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
