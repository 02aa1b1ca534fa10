"""BertViz's head view: every head of one layer at once, one colour per head, lines weighted by attention.

Heads are legend groups, so toggling a head in the legend is plotly.js's own (instant, no server round
trip); so is the hover of a token, whose label lists what it attends to in each head. Only the strongest
edges of each head are sent (top-k per query token), as in the attention graph.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from dashapp.figures.attention_graph import prune_edges
from dashapp.figures.common import apply_theme, empty_figure, escape
from dashapp.figures.tokens import readable_tokens
from interp.schema import Analysis

HEAD_COLORS = qualitative.Dark24
TOP_K = 3  # edges per query token and head
WIDTH_BINS = 3  # plotly draws one width and opacity per trace: a head's edges in this many strengths
# Sentence-pair filters (BertViz): which segment the query is in, which the key is in.
PAIR_FILTERS = {"all": None, "AA": (0, 0), "AB": (0, 1), "BA": (1, 0), "BB": (1, 1)}
PAIR_LABELS = {"all": "All", "AA": "A→A", "AB": "A→B", "BA": "B→A", "BB": "B→B"}


def head_color(head: int) -> str:
    return HEAD_COLORS[head % len(HEAD_COLORS)]


def pair_mask(segments: np.ndarray, source: np.ndarray, target: np.ndarray, pair: str | None) -> np.ndarray:
    """The edges the sentence-pair filter keeps (query segment → key segment)."""
    wanted = PAIR_FILTERS.get(pair or "all")
    if wanted is None:
        return np.ones(source.shape, dtype=bool)
    return (segments[source] == wanted[0]) & (segments[target] == wanted[1])


def _lines(source: np.ndarray, target: np.ndarray) -> tuple[list, list]:
    xs: list = []
    ys: list = []
    for i, j in zip(source.tolist(), target.tolist()):
        xs += [0, 1, None]
        ys += [-i, -j, None]
    return xs, ys


def head_view_figure(
    analysis: Analysis, layer: int, pair: str | None = "all", theme: str | None = None
) -> go.Figure:
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    n = analysis.n_tokens
    segments = np.asarray(analysis.token_segments[:n] or [0] * n)
    if PAIR_FILTERS.get(pair or "all") and 1 in PAIR_FILTERS[pair] and not (segments == 1).any():
        return empty_figure("this input has one sentence: no sentence B to filter on", theme)
    labels = [escape(t) for t in readable_tokens(analysis)]
    fig = go.Figure()
    strongest: list[list[str]] = [[] for _ in range(n)]  # per query token: its top key in each head
    top = max(float(analysis.attention[layer].max()), 1e-9)  # widths relative to the layer's strongest
    for head, matrix in enumerate(analysis.attention[layer]):
        edges = prune_edges(matrix, TOP_K)
        keep = pair_mask(segments, edges.source, edges.target, pair)
        source, target, weight = edges.source[keep], edges.target[keep], edges.weight[keep]
        strength = np.minimum(WIDTH_BINS - 1, (weight / top * WIDTH_BINS).astype(int))
        color = head_color(head)
        first = True
        for level in range(WIDTH_BINS):
            xs, ys = _lines(source[strength == level], target[strength == level])
            if not xs:
                continue
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    hoverinfo="skip",
                    name=f"head {head}",
                    legendgroup=f"head {head}",
                    showlegend=first,
                    line=dict(color=color, width=1 + 1.5 * level),
                    opacity=0.3 + 0.7 * (level + 1) / WIDTH_BINS,
                )
            )
            first = False
        best = matrix.argmax(axis=1)
        for i in range(n):
            strongest[i].append(f"head {head} → {labels[best[i]]} ({matrix[i, best[i]]:.2f})")
    hover = ["<br>".join(rows) for rows in strongest]
    for x, side, position in ((0, "from", "middle left"), (1, "to", "middle right")):
        fig.add_trace(
            go.Scatter(
                x=[x] * n,
                y=[-i for i in range(n)],
                mode="markers+text",
                text=labels,
                textposition=position,
                marker=dict(size=8, color="#888"),
                customdata=list(range(n)),
                hovertext=hover if side == "from" else None,
                showlegend=False,
                hovertemplate=f"{side} %{{text}} (#%{{customdata}})"
                + ("<br>%{hovertext}" if side == "from" else "")
                + "<extra></extra>",
            )
        )
    fig.update_xaxes(visible=False, range=[-0.6, 1.6])
    fig.update_yaxes(visible=False, range=[-n + 0.5, 0.5])
    return apply_theme(
        fig,
        theme,
        f"Head view · layer {layer} · {PAIR_LABELS.get(pair or 'all', 'All')} · click a head to hide it",
        height=min(1600, 140 + 22 * n),
        legend=dict(orientation="h", y=-0.02, itemclick="toggle", itemdoubleclick="toggleothers"),
        clickmode="event",
    )
