"""BertViz's head view: every head of one layer at once, one colour per head, lines weighted by attention.

Heads are legend groups, so toggling a head in the legend is plotly.js's own (instant, no server round
trip); so is the hover of a token, whose label lists what it attends to in each head. Only the strongest
edges of each head are sent (top-k per query token), as in the attention graph.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from dashapp.figures.attention_graph import token_columns
from dashapp.figures.common import HIGHLIGHT, apply_theme, empty_figure, escape
from dashapp.figures.edge_lines import edge_trace, prune_edges
from dashapp.figures.tokens import readable_tokens
from dashapp.figures.window import add_minimap, in_window, rows_height, token_window, window_note
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


def head_view_figure(
    analysis: Analysis,
    layer: int,
    pair: str | None = "all",
    theme: str | None = None,
    token: int | None = None,
) -> go.Figure:
    """A long input shows the window of tokens around `token` (dashapp.figures.window): every head's
    strongest edges of those queries, so 12 heads × 512 tokens stay lines rather than one solid block."""
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    n = analysis.n_tokens
    segments = np.asarray(analysis.token_segments[:n] or [0] * n)
    if PAIR_FILTERS.get(pair or "all") and 1 in PAIR_FILTERS[pair] and not (segments == 1).any():
        return empty_figure("this input has one sentence: no sentence B to filter on", theme)
    selected = token if token is not None and 0 <= token < n else None
    window = token_window(n, selected)
    start, stop = window
    labels = [escape(t) for t in readable_tokens(analysis)]
    fig = go.Figure()
    strongest: list[list[str]] = [[] for _ in range(n)]  # per query token: its top key in each head
    layer_attention = analysis.attention[layer]
    rows = layer_attention[:, start:stop]  # [H, window, n]
    top = max(float(rows.max()), 1e-9)  # widths relative to the strongest edge on show
    for head, matrix in enumerate(rows):
        edges = prune_edges(matrix, TOP_K, first_row=start)
        edges = in_window(
            edges.where(pair_mask(segments, edges.source, edges.target, pair)), window, selected
        )
        strength = np.minimum(WIDTH_BINS - 1, (edges.weight / top * WIDTH_BINS).astype(int))
        color = head_color(head)
        first = True
        for level in range(WIDTH_BINS):
            trace = edge_trace(
                edges.where(strength == level),
                name=f"head {head}",
                legendgroup=f"head {head}",
                showlegend=first,
                line=dict(color=color, width=1 + 1.5 * level),
                opacity=0.3 + 0.7 * (level + 1) / WIDTH_BINS,
            )
            if trace is not None:
                fig.add_trace(trace)
                first = False
        best = matrix.argmax(axis=1)
        for i, j in enumerate(best.tolist(), start=start):
            strongest[i].append(f"head {head} → {labels[j]} ({matrix[i - start, j]:.2f})")
    hover = ["<br>".join(rows) for rows in strongest]
    token_columns(fig, labels, window, [HIGHLIGHT if i == selected else "#888" for i in range(n)], 8, hover)
    title = f"Head view · layer {layer} · {PAIR_LABELS.get(pair or 'all', 'All')} · click a head to hide it"
    if window != (0, n):
        add_minimap(
            fig, layer_attention.mean(axis=(0, 1)), window, selected, labels, theme, "attention received"
        )
        title = (
            f"Head view · layer {layer} · {PAIR_LABELS.get(pair or 'all', 'All')} · {window_note(window, n)}"
        )
    return apply_theme(
        fig,
        theme,
        title,
        height=rows_height(stop - start, 140),
        legend=dict(orientation="h", y=-0.02, itemclick="toggle", itemdoubleclick="toggleothers"),
        clickmode="event",
    )
