"""BERTGradGraph-style bipartite attention graph: queries on the left, keys on the right.

Only the strongest edges are drawn (top-k per query token, above a threshold), so the browser gets a
few kilobytes instead of the whole matrix. A long input shows a window of tokens around the selection
(dashapp.figures.window) with a minimap of the whole sequence beside it: the height stays bounded
and every label readable. Any kind of attention (dashapp.figures.kinds): cross-attention's keys are the
source tokens, drawn on the right.
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
from dashapp.figures.kinds import key_labels, key_segments, kind_title, query_segments
from dashapp.figures.pairs import NO_SENTENCE_B, lacks_sentence_b, pair_mask, pair_name
from dashapp.figures.tokens import readable_tokens
from dashapp.figures.window import add_minimap, rows_height, token_window, window_edges, window_note
from interp.schema import Analysis

__all__ = ["Edges", "attention_graph_figure", "prune_edges"]

WIDTH_BINS = 5  # plotly draws one width per trace: edges are grouped into this many strengths
INCOMING = "#d62728"


def side_positions(n_queries: int, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """The y of each query (left) and key (right): token i at -i, the shorter side spread over the longer
    one's height (cross-attention's few target tokens beside many source tokens)."""
    tall = max(n_queries, n_keys) - 1

    def spread(count: int) -> np.ndarray:
        if count - 1 == tall:  # the longer side (both, in self-attention): one token a row
            return -np.arange(count, dtype=float)
        gap = tall / (count - 1) if count > 1 else 0.0
        return np.round(-np.arange(count) * gap, 4)

    return spread(n_queries), spread(n_keys)


def token_columns(
    fig: go.Figure,
    labels: list[str],
    window: tuple[int, int],
    colors: list[str] | str,
    size: int,
    hovertext: list[str] | None = None,
    keys: tuple[list[str], list[str] | str] | None = None,
    at: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """The window's tokens as two labelled columns of markers (queries at x=0, keys at x=1); a click on
    one selects its token (customdata). `keys`: (labels, colors) where the keys are other tokens (cross);
    `at`: each side's y per token (side_positions; default token i at -i)."""
    key_names, key_colors = keys or (labels, colors)
    for x, side, position, names, tint in (
        (0, "from", "middle left", labels, colors),
        (1, "to", "middle right", key_names, key_colors),
    ):
        rows = list(range(window[0], min(window[1], len(names))))
        extra = side == "from" and hovertext is not None
        fig.add_trace(
            go.Scatter(
                x=[x] * len(rows),
                y=[-i for i in rows] if at is None else [float(at[x][i]) for i in rows],
                mode="markers+text",
                text=[names[i] for i in rows],
                textposition=position,
                marker=dict(size=size, color=tint if isinstance(tint, str) else [tint[i] for i in rows]),
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
    rows = max(n, m)  # one y axis: query i and key i share a row
    matrix = head_matrix(analysis, layer, head)
    selected = token if token is not None and 0 <= token < n else None
    selected_key = selected if key is None and m == n and selected is not None else key
    window = token_window(rows, selected)
    start, stop = window
    # The window's queries, and whoever attends to the selected key from outside it (lines leave the view).
    edges = window_edges(matrix, window, top_k, threshold, selected, selected_key)
    edges = edges.where(pair_mask(queries, keys, edges.source, edges.target, pair))
    at = side_positions(n, m) if m != n and window == (0, rows) else None  # a short side spread
    outgoing = edges.source == selected
    incoming = (edges.target == selected_key) & ~outgoing
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
                at,
                showlegend=False,
                line=dict(color=edge_color, width=0.5 + 1.5 * level),
                opacity=opacity,
            )
        )
    for mask, color, name in ((outgoing, HIGHLIGHT, "attends to"), (incoming, INCOMING, "attended by")):
        traces.append(
            edge_trace(edges.where(mask), at, name=f"selected {name}", line=dict(color=color, width=3))
        )
    fig.add_traces([t for t in traces if t is not None])
    labels = [escape(t) for t in readable_tokens(analysis)]
    tint = lambda chosen, count: [HIGHLIGHT if i == chosen else edge_color for i in range(count)]  # noqa: E731
    token_columns(
        fig,
        labels,
        window,
        tint(selected, n),
        9,
        keys=(key_names, tint(selected_key, m)) if m != n else None,
        at=at,
    )
    pairs = "" if not pair or pair == "all" else f" · {pair_name(pair)}"
    title = f"Attention graph · layer {layer}{kind_title(analysis)} · {head_name(head)}{pairs} · top {top_k}"
    title += " per token" if window == (0, rows) else ""
    if window != (0, rows) and m == n:
        add_minimap(fig, matrix.mean(axis=0), window, selected, labels, theme, "attention received")
    if window != (0, rows):
        title += f" · {window_note(window, rows)}"
    return apply_theme(
        fig,
        theme,
        title,
        height=rows_height(stop - start, 120),
        legend=dict(orientation="h", y=-0.02),
        clickmode="event",
    )
