"""Token-focused view: where the selected token attends, and who attends to it, layer by layer."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashapp.figures.common import (
    apply_theme,
    empty_figure,
    escape,
    head_name,
    rounded,
    sequential_scale,
    token_labels,
)
from dashapp.figures.tokens import readable_tokens
from interp.attention_rebuild import token_columns, token_rows
from interp.schema import Analysis


def token_focus_figure(
    analysis: Analysis, token: int | None, head: int | None, theme: str | None = None
) -> go.Figure:
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    if token is None or not 0 <= token < analysis.n_tokens:
        return empty_figure("select a token to see its attention in every layer", theme)
    # One row and one column per layer and head: from stored q/k without rebuilding every layer.
    rows, columns = token_rows(analysis.attention, token), token_columns(analysis.attention, token)
    pick = (lambda a: a.mean(axis=1)) if head is None else (lambda a: a[:, head])  # [L, H, n] -> [L, n]
    attends, attended = pick(rows), pick(columns)
    pieces = readable_tokens(analysis)
    labels = token_labels(pieces)
    layers = [f"L{l}" for l in range(analysis.num_layers)]
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=(f"{escape(pieces[token])} attends to …", f"… attend to {escape(pieces[token])}"),
    )
    for row, values, verb in (
        (1, attends, "attends to"),
        (2, attended, "attended by"),
    ):
        fig.add_trace(
            go.Heatmap(
                z=rounded(np.asarray(values)),
                x=labels,
                y=layers,
                coloraxis="coloraxis",
                hovertemplate=f"%{{y}}: {verb} %{{x}}: %{{z:.3f}}<extra></extra>",
            ),
            row=row,
            col=1,
        )
    fig.update_xaxes(type="category", tickangle=-60)
    fig.update_yaxes(autorange="reversed")
    top = max(float(attends.max()), float(attended.max()), 1e-6)
    # both ends, or plotly ignores cmin
    fig.update_layout(coloraxis=dict(colorscale=sequential_scale(theme), cmin=0, cmax=top))
    return apply_theme(
        fig,
        theme,
        f"Token focus · #{token} · {head_name(head)}",
        subtitle_lines=1,
        height=260 + 40 * analysis.num_layers,
    )
