"""BERTGradGraph-style bipartite attention graph: queries on the left, keys on the right.

Only the strongest edges are drawn (top-k per query token, above a threshold), so long inputs
stay readable and the browser gets a few kilobytes instead of the whole matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

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
from dashapp.figures.kinds import key_labels, key_segments, kind_title, query_segments
from dashapp.figures.pairs import NO_SENTENCE_B, lacks_sentence_b, pair_mask, pair_name
from dashapp.figures.tokens import readable_tokens
from interp.schema import Analysis

WIDTH_BINS = 5  # plotly draws one width per trace: edges are grouped into this many strengths
MAX_LABELLED = 80  # above this many tokens the labels would overlap: hover shows them instead
INCOMING = "#d62728"


@dataclass(frozen=True)
class Edges:
    source: np.ndarray  # query token index
    target: np.ndarray  # key token index
    weight: np.ndarray


def prune_edges(matrix: np.ndarray, top_k: int, threshold: float = 0.0) -> Edges:
    """The top_k strongest edges of each row that also reach `threshold`."""
    n = matrix.shape[0]
    k = max(1, min(int(top_k), matrix.shape[1]))
    cols = np.argpartition(-matrix, k - 1, axis=1)[:, :k]
    rows = np.repeat(np.arange(n), k)
    cols = cols.reshape(-1)
    weights = matrix[rows, cols]
    keep = weights >= threshold
    return Edges(rows[keep], cols[keep], weights[keep].astype(np.float32))


def side_positions(n_queries: int, n_keys: int) -> tuple[list[float], list[float]]:
    """The y of each query (left) and key (right): token i at -i, the shorter side spread over the longer
    one's height (cross-attention's few target tokens beside many source tokens)."""
    tall = max(n_queries, n_keys) - 1

    def spread(count: int) -> list[float]:
        if count - 1 == tall:  # the longer side (both, in self-attention): one token a row
            return [-i for i in range(count)]
        gap = tall / (count - 1) if count > 1 else 0.0
        return [round(-i * gap, 4) for i in range(count)]

    return spread(n_queries), spread(n_keys)


def line_segments(
    source: np.ndarray, target: np.ndarray, query_y: list[float], key_y: list[float]
) -> tuple[list, list]:
    """Line segments from (0, query's y) to (1, key's y), separated by None (one trace holds many edges).
    The browser's hover highlight (assets/hover_lines.js) reads them back in this shape."""
    xs: list = []
    ys: list = []
    for i, j in zip(source.tolist(), target.tolist()):
        xs += [0, 1, None]
        ys += [query_y[i], key_y[j], None]
    return xs, ys


def attention_graph_figure(
    analysis: Analysis,
    layer: int,
    head: int | None,
    token: int | None = None,
    top_k: int = 3,
    threshold: float = 0.0,
    theme: str | None = None,
    pair: str | None = None,
    key: int | None = None,
) -> go.Figure:
    """Queries (left) to keys (right). `token`: the selected query, whose edges are drawn on top; `key`: the
    selected key (default: the same token; cross-attention's keys are other tokens); `pair`: a sentence-pair
    filter (dashapp.figures.pairs)."""
    if analysis.attention is None:
        return empty_figure("attention not computed yet", theme)
    queries, keys = query_segments(analysis), key_segments(analysis)
    if lacks_sentence_b(queries, keys, pair):
        return empty_figure(NO_SENTENCE_B, theme)
    key_names = [escape(t) for t in key_labels(analysis)]
    n, m = analysis.n_tokens, len(key_names)
    edges = prune_edges(head_matrix(analysis, layer, head), top_k, threshold)
    keep = pair_mask(queries, keys, edges.source, edges.target, pair)
    edges = Edges(edges.source[keep], edges.target[keep], edges.weight[keep])
    selected = token if token is not None and 0 <= token < n else None
    selected_key = selected if key is None and m == n and selected is not None else key
    query_y, key_y = side_positions(n, m)
    outgoing = edges.source == selected
    incoming = (edges.target == selected_key) & ~outgoing
    plain = ~(outgoing | incoming)
    fig = go.Figure()
    top = float(edges.weight.max()) if edges.weight.size else 1.0
    strength = np.minimum(WIDTH_BINS - 1, (edges.weight / max(top, 1e-9) * WIDTH_BINS).astype(int))
    # On the dark card faint lines vanish: a lighter blue, and the weakest edges kept more opaque.
    edge_color, faintest = accent(theme), (0.35 if theme == "dark" else 0.15)
    behind = 0.2 if theme == "dark" else 0.12  # the other edges, while a token's own are drawn on top
    for level in range(WIDTH_BINS):
        keep = plain & (strength == level)
        xs, ys = line_segments(edges.source[keep], edges.target[keep], query_y, key_y)
        if xs:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    hoverinfo="skip",
                    showlegend=False,
                    line=dict(color=edge_color, width=0.5 + 1.5 * level),
                    opacity=faintest + (1 - faintest) * (level + 1) / WIDTH_BINS
                    if selected is None
                    else behind,
                )
            )
    for mask, color, name in ((outgoing, HIGHLIGHT, "attends to"), (incoming, INCOMING, "attended by")):
        xs, ys = line_segments(edges.source[mask], edges.target[mask], query_y, key_y)
        if xs:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    hoverinfo="skip",
                    name=f"selected {name}",
                    line=dict(color=color, width=3),
                )
            )
    labels = [escape(t) for t in readable_tokens(analysis)]
    for x, side, position, names, chosen, ys in (
        (0, "from", "middle left", labels, selected, query_y),
        (1, "to", "middle right", key_names, selected_key, key_y),
    ):
        fig.add_trace(
            go.Scatter(
                x=[x] * len(names),
                y=ys,
                mode="markers+text" if max(n, m) <= MAX_LABELLED else "markers",
                text=names,
                textposition=position,
                marker=dict(
                    size=9, color=[HIGHLIGHT if i == chosen else edge_color for i in range(len(names))]
                ),
                customdata=list(range(len(names))),
                showlegend=False,
                hovertemplate=f"{side} %{{text}} (#%{{customdata}})<extra></extra>",
            )
        )
    fig.update_xaxes(visible=False, range=[-0.6, 1.6])
    fig.update_yaxes(visible=False, range=[-max(n, m) + 0.5, 0.5])
    pairs = "" if not pair or pair == "all" else f" · {pair_name(pair)}"
    return apply_theme(
        fig,
        theme,
        f"Attention graph · layer {layer}{kind_title(analysis)} · {head_name(head)}{pairs} · top {top_k} per token",
        height=min(1600, 120 + 22 * max(n, m)),
        legend=dict(orientation="h", y=-0.02),
        clickmode="event",
    )
