"""BERTGradGraph-style bipartite attention graph: queries on the left, keys on the right.

Only the strongest edges are drawn (top-k per query token, above a threshold), so the browser gets a
few kilobytes instead of the whole matrix. A long input shows a window of tokens around the selection
(dashapp.figures.window) with a minimap of the whole sequence beside it: the height stays bounded
and every label readable.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashapp.figures.common import (
    HIGHLIGHT,
    accent,
    apply_theme,
    empty_figure,
    escape,
    head_matrix,
    head_name,
)
from dashapp.figures.edge_lines import Edges, edge_trace, prune_edges
from dashapp.figures.tokens import readable_tokens
from dashapp.figures.window import add_minimap, in_window, rows_height, token_window, window_note
from interp.schema import Analysis

__all__ = ["Edges", "attention_graph_figure", "prune_edges"]

WIDTH_BINS = 5  # plotly draws one width per trace: edges are grouped into this many strengths
INCOMING = "#d62728"


def token_columns(
    fig: go.Figure,
    labels: list[str],
    window: tuple[int, int],
    colors: list[str] | str,
    size: int,
    hovertext: list[str] | None = None,
) -> None:
    """The window's tokens as two labelled columns of markers (queries at x=0, keys at x=1); a click on
    one selects its token (customdata)."""
    rows = list(range(*window))
    for x, side, position in ((0, "from", "middle left"), (1, "to", "middle right")):
        extra = side == "from" and hovertext is not None
        fig.add_trace(
            go.Scatter(
                x=[x] * len(rows),
                y=[-i for i in rows],
                mode="markers+text",
                text=[labels[i] for i in rows],
                textposition=position,
                marker=dict(
                    size=size, color=colors if isinstance(colors, str) else [colors[i] for i in rows]
                ),
                customdata=rows,
                hovertext=[hovertext[i] for i in rows] if extra and hovertext else None,
                showlegend=False,
                hovertemplate=f"{side} %{{text}} (#%{{customdata}})"
                + ("<br>%{hovertext}" if extra else "")
                + "<extra></extra>",
            )
        )
    start, stop = window
    fig.update_xaxes(visible=False, range=[-0.6, 1.6], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-(stop - 1) - 0.5, -start + 0.5], fixedrange=True)


def attention_graph_figure(
    analysis: Analysis,
    layer: int,
    head: int | None,
    token: int | None = None,
    top_k: int = 3,
    threshold: float = 0.0,
    theme: str | None = None,
) -> go.Figure:
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    n = analysis.n_tokens
    matrix = head_matrix(analysis, layer, head)
    selected = token if token is not None and 0 <= token < n else None
    window = token_window(n, selected)
    start, stop = window
    # The window's queries, and whoever attends to the selected token from outside it (lines leave the view).
    edges = prune_edges(matrix[start:stop], top_k, threshold, first_row=start)
    if selected is not None and (start, stop) != (0, n):
        outside = prune_edges(matrix, top_k, threshold)
        far = ((outside.source < start) | (outside.source >= stop)) & (outside.target == selected)
        edges = edges.joined(outside.where(far))
    edges = in_window(edges, window, selected)
    outgoing = edges.source == selected
    incoming = (edges.target == selected) & ~outgoing
    plain = ~(outgoing | incoming)
    fig = go.Figure()
    top = float(edges.weight.max()) if edges.weight.size else 1.0
    strength = np.minimum(WIDTH_BINS - 1, (edges.weight / max(top, 1e-9) * WIDTH_BINS).astype(int))
    # On the dark card faint lines vanish: a lighter blue, and the weakest edges kept more opaque.
    edge_color, faintest = accent(theme), (0.35 if theme == "dark" else 0.15)
    behind = 0.2 if theme == "dark" else 0.12  # the other edges, while a token's own are drawn on top
    traces: list[go.Scatter | None] = []
    for level in range(WIDTH_BINS):
        opacity = faintest + (1 - faintest) * (level + 1) / WIDTH_BINS if selected is None else behind
        traces.append(
            edge_trace(
                edges.where(plain & (strength == level)),
                showlegend=False,
                line=dict(color=edge_color, width=0.5 + 1.5 * level),
                opacity=opacity,
            )
        )
    for mask, color, name in ((outgoing, HIGHLIGHT, "attends to"), (incoming, INCOMING, "attended by")):
        traces.append(edge_trace(edges.where(mask), name=f"selected {name}", line=dict(color=color, width=3)))
    fig.add_traces([t for t in traces if t is not None])
    labels = [escape(t) for t in readable_tokens(analysis)]
    token_columns(fig, labels, window, [HIGHLIGHT if i == selected else edge_color for i in range(n)], 9)
    title = f"Attention graph · layer {layer} · {head_name(head)} · top {top_k}"
    title += " per token" if window == (0, n) else ""
    if window != (0, n):
        add_minimap(fig, matrix.mean(axis=0), window, selected, labels, theme, "attention received")
        title += f" · {window_note(window, n)}"
    return apply_theme(
        fig,
        theme,
        title,
        height=rows_height(stop - start, 120),
        legend=dict(orientation="h", y=-0.02),
        clickmode="event",
    )
