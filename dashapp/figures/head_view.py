"""BertViz's head view: every head of one layer at once, one colour per head, lines weighted by attention.

Heads are legend groups, so toggling a head in the legend is plotly.js's own (instant, no server round
trip); so is the hover of a token, whose label lists what it attends to in each head. Only the strongest
edges of each head are sent (top-k per query token), as in the attention graph.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from dashapp.figures.attention_graph import line_segments, prune_edges, side_positions
from dashapp.figures.common import apply_theme, empty_figure, escape
from dashapp.figures.kinds import key_labels, key_segments, kind_title, query_segments
from dashapp.figures.pairs import NO_SENTENCE_B, lacks_sentence_b, pair_mask, pair_name
from dashapp.figures.tokens import readable_tokens
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
    heads: list[int] | None = None,
) -> go.Figure:
    """`heads`: only these heads (BertViz's include_heads); None: every head of the layer."""
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    n = analysis.n_tokens
    queries, keys = query_segments(analysis), key_segments(analysis)
    if lacks_sentence_b(queries, keys, pair):
        return empty_figure(NO_SENTENCE_B, theme)
    labels = [escape(t) for t in readable_tokens(analysis)]
    key_names = [escape(t) for t in key_labels(analysis)]
    m = len(key_names)
    layer_attention = np.asarray(analysis.attention[layer])
    shown = [h for h in range(layer_attention.shape[0]) if heads is None or h in heads]
    query_y, key_y = side_positions(n, m)
    fig = go.Figure()
    strongest: list[list[str]] = [[] for _ in range(n)]  # per query token: its top key in each head
    top = max(float(layer_attention[shown].max()) if shown else 0.0, 1e-9)  # widths: the layer's strongest
    for head in shown:
        matrix = layer_attention[head]
        edges = prune_edges(matrix, TOP_K)
        keep = pair_mask(queries, keys, edges.source, edges.target, pair)
        source, target, weight = edges.source[keep], edges.target[keep], edges.weight[keep]
        strength = np.minimum(WIDTH_BINS - 1, (weight / top * WIDTH_BINS).astype(int))
        color = head_color(head)
        first = True
        for level in range(WIDTH_BINS):
            xs, ys = line_segments(source[strength == level], target[strength == level], query_y, key_y)
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
            strongest[i].append(f"head {head} → {key_names[best[i]]} ({matrix[i, best[i]]:.2f})")
    hover = ["<br>".join(rows) for rows in strongest]
    for x, side, position, names in (
        (0, "from", "middle left", labels),
        (1, "to", "middle right", key_names),
    ):
        fig.add_trace(
            go.Scatter(
                x=[x] * len(names),
                y=[-i for i in range(len(names))],
                mode="markers+text",
                text=names,
                textposition=position,
                marker=dict(size=8, color="#888"),
                customdata=list(range(len(names))),
                hovertext=hover if side == "from" else None,
                showlegend=False,
                hovertemplate=f"{side} %{{text}} (#%{{customdata}})"
                + ("<br>%{hovertext}" if side == "from" else "")
                + "<extra></extra>",
            )
        )
    fig.update_xaxes(visible=False, range=[-0.6, 1.6])
    fig.update_yaxes(visible=False, range=[-max(n, m) + 0.5, 0.5])
    some = "" if heads is None else f" · heads {', '.join(map(str, shown))}"
    return apply_theme(
        fig,
        theme,
        f"Head view · layer {layer}{kind_title(analysis)}{some} · {pair_name(pair)} · click a head to hide it",
        height=min(1600, 140 + 22 * max(n, m)),
        legend=dict(orientation="h", y=-0.02, itemclick="toggle", itemdoubleclick="toggleothers"),
        clickmode="event",
    )
