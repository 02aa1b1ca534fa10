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
from dashapp.figures.kinds import key_labels, kind_title
from dashapp.figures.tokens import readable_tokens
from interp.attention_rebuild import token_columns, token_rows
from interp.schema import Analysis


def token_focus_figure(
    analysis: Analysis, token: int | None, head: int | None, theme: str | None = None, key: int | None = None
) -> go.Figure:
    """Where query `token` attends (top) and who attends to key `key` (bottom; default: the same token, as
    in self-attention), in every layer."""
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    pieces, key_pieces = readable_tokens(analysis), key_labels(analysis)
    square = key_pieces == pieces
    token = token if token is not None and 0 <= token < len(pieces) else None
    key = token if key is None and square else key
    key = key if key is not None and 0 <= key < len(key_pieces) else None
    if token is None and key is None:
        return empty_figure("select a token to see its attention in every layer", theme)
    # Per layer, the query's row and the key's column of every head: from stored q/k without rebuilding
    # every layer (dashapp.figures.kinds: a kind other than the encoder's is dense).
    pick = (lambda a: a.mean(axis=1)) if head is None else (lambda a: a[:, head])  # [L, H, m] -> [L, m]
    layers = [f"L{l}" for l in range(analysis.num_layers)]
    rows = []  # (values [L, tokens], their labels, verb, subplot title)
    if token is not None:
        rows.append(
            (
                pick(token_rows(analysis.attention, token)),
                token_labels(key_pieces),
                "attends to",
                f"{escape(pieces[token])} attends to …",
            )
        )
    if key is not None:
        rows.append(
            (
                pick(token_columns(analysis.attention, key)),
                token_labels(pieces),
                "attended by",
                f"… attend to {escape(key_pieces[key])}",
            )
        )
    fig = make_subplots(
        rows=len(rows),
        cols=1,
        shared_xaxes=square,
        vertical_spacing=0.12 if square else 0.3,
        subplot_titles=[title for *_, title in rows],
    )
    for row, (values, labels, verb, _title) in enumerate(rows, start=1):
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
    top = max(*(float(values.max()) for values, *_ in rows), 1e-6)
    # both ends, or plotly ignores cmin
    fig.update_layout(coloraxis=dict(colorscale=sequential_scale(theme), cmin=0, cmax=top))
    return apply_theme(
        fig,
        theme,
        f"Token focus{kind_title(analysis)} · #{token if token is not None else key} · {head_name(head)}",
        subtitle_lines=1,
        height=(130 + 20 * analysis.num_layers) * len(rows) + (0 if square else 80),
    )
