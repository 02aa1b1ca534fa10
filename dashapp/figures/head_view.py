"""BertViz's head view: every head of one layer at once, one colour per head, lines weighted by attention.

Heads are legend groups, so toggling a head in the legend is plotly.js's own (instant, no server round
trip); so is the hover of a token, whose label lists what it attends to in each head. Only the strongest
edges of each head are sent (top-k per query token), as in the attention graph; a long input shows the
window of tokens around the selection (dashapp.figures.window), with the selected token's edges to and from
tokens outside it, as the attention graph draws them.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from dashapp.figures.attention_graph import token_columns
from dashapp.figures.common import HIGHLIGHT, apply_theme, empty_figure, escape
from dashapp.figures.edge_lines import edge_trace
from dashapp.figures.kinds import key_labels, key_segments, kind_title, query_segments
from dashapp.figures.pairs import NO_SENTENCE_B, lacks_sentence_b, pair_mask, pair_name
from dashapp.figures.tokens import readable_tokens
from dashapp.figures.window import add_minimap, rows_height, token_window, window_edges, window_note
from interp.schema import Analysis

HEAD_COLORS = qualitative.Dark24
TOP_K = 3  # edges per query token and head
WIDTH_BINS = 3  # plotly draws one width and opacity per trace: a head's edges in this many strengths


def head_color(head: int) -> str:
    return HEAD_COLORS[head % len(HEAD_COLORS)]


def head_view_figure(
    analysis: Analysis,
    layer: int,
    pair: str | None = "all",
    theme: str | None = None,
    token: int | None = None,
    heads: list[int] | None = None,
) -> go.Figure:
    """`heads`: only these heads (BertViz's include_heads); None: every head of the layer. A long input shows
    the window around `token`: every head's strongest edges of those queries, so 12 heads × 512 tokens stay
    lines rather than one solid block."""
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    n = analysis.n_tokens
    queries, keys = query_segments(analysis), key_segments(analysis)
    if lacks_sentence_b(queries, keys, pair):
        return empty_figure(NO_SENTENCE_B, theme)
    labels = [escape(t) for t in readable_tokens(analysis)]
    key_names = [escape(t) for t in key_labels(analysis)]
    m = len(key_names)
    rows_count = max(n, m)
    selected = token if token is not None and 0 <= token < n else None
    window = token_window(rows_count, selected)
    start, stop = window
    layer_attention = np.asarray(analysis.attention[layer])
    shown = [h for h in range(layer_attention.shape[0]) if heads is None or h in heads]
    rows = layer_attention[:, start:stop]  # [H, window, m]
    fig = go.Figure()
    strongest: list[list[str]] = [[] for _ in range(n)]  # per query token: its top key in each head
    top = max(float(rows[shown].max()) if shown and rows.size else 0.0, 1e-9)  # widths: the strongest on show
    for head in shown:
        matrix = rows[head]
        # as in the attention graph: the window's queries, and who attends to the selected token from afar
        edges = window_edges(
            layer_attention[head], window, TOP_K, 0.0, selected, selected if m == n else None
        )
        edges = edges.where(pair_mask(queries, keys, edges.source, edges.target, pair))
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
            strongest[i].append(f"head {head} → {key_names[j]} ({matrix[i - start, j]:.2f})")
    hover = ["<br>".join(lines) for lines in strongest]
    tint = [HIGHLIGHT if i == selected else "#888" for i in range(n)]
    token_columns(fig, labels, window, tint, 8, hover, keys=(key_names, "#888") if m != n else None)
    some = "" if heads is None else f" · heads {', '.join(map(str, shown))}"
    title = f"Head view · layer {layer}{kind_title(analysis)}{some} · {pair_name(pair)}"
    if window != (0, rows_count) and m == n:
        add_minimap(
            fig, layer_attention.mean(axis=(0, 1)), window, selected, labels, theme, "attention received"
        )
    title += (
        f" · {window_note(window, rows_count)}" if window != (0, rows_count) else " · click a head to hide it"
    )
    return apply_theme(
        fig,
        theme,
        title,
        height=rows_height(stop - start, 140),
        legend=dict(orientation="h", y=-0.02, itemclick="toggle", itemdoubleclick="toggleothers"),
        clickmode="event",
    )
