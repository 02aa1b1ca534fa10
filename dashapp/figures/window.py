"""Long inputs in the graph views: a window of tokens around the selection, sized by a pixel budget, and
a minimap of the whole sequence beside it whose bars select a token (and so move the window).

Below WINDOW_ROWS tokens a view shows them all, as before; above, its height stays bounded and every
label stays readable instead of the column of unlabelled dots a 512-token input used to make.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashapp.figures.common import HIGHLIGHT, accent, escape
from dashapp.figures.edge_lines import Edges, prune_edges

ROW_PX = 18  # one token's row: a readable label at plotly's default 12 px font
WINDOW_PX = 720  # the most a graph view's token rows may take
WINDOW_ROWS = WINDOW_PX // ROW_PX  # 40 tokens
MINIMAP_DOMAIN = (0.0, 0.06)  # the minimap's share of the figure's width, on the left
GRAPH_DOMAIN = (0.1, 1.0)
MARK_PX = 6  # the selected token's mark on the minimap: a bar is ~1.4 px tall at 512 tokens, too thin to see


def token_window(n: int, token: int | None, rows: int = WINDOW_ROWS) -> tuple[int, int]:
    """[start, stop) of at most `rows` tokens, the selected one in the middle (the top without one)."""
    if n <= rows:
        return 0, n
    start = 0 if token is None else min(max(0, token - rows // 2), n - rows)
    return start, start + rows


def rows_height(rows: int, extra: int) -> int:
    return extra + ROW_PX * rows


def add_minimap(
    fig: go.Figure,
    values: np.ndarray,
    window: tuple[int, int],
    token: int | None,
    tokens: list[str],
    theme: str | None,
    what: str,
) -> None:
    """All n tokens as thin bars (length: `values`, e.g. the attention each receives) on the left, the window
    outlined and the selected token marked; clicking a bar selects its token. The graph moves to the right of it (x2/y2 are the minimap)."""
    n = len(values)
    values = np.asarray(values, dtype=np.float32)
    colors = [HIGHLIGHT if i == token else accent(theme) for i in range(n)]
    # The axis starts a little below the smallest value (near-uniform attention still shows its ups and
    # downs) and ends at the 98th percentile (a few [CLS]/[SEP] spikes would flatten every other bar).
    low, high = float(values.min()), float(np.quantile(values, 0.98))
    start_at = max(0.0, low - 0.1 * (high - low))
    high = max(high, start_at + 1e-9)
    # Each bar lies inside the strip (from its start, clipped at its end): a bar running off the strip
    # would put its centre, where a click lands, off the figure.
    fig.add_trace(
        go.Bar(
            x=np.round(np.clip(values, start_at, high) - start_at, 6),
            base=start_at,
            y=-np.arange(n),
            orientation="h",
            width=1.0,
            marker=dict(color=colors, line=dict(width=0)),
            customdata=list(range(n)),
            text=[f"{escape(t)}<br>{what} {v:.3g}" for t, v in zip(tokens, values.tolist())],
            hovertemplate="#%{customdata} %{text}<br>click: select it<extra></extra>",
            textposition="none",
            showlegend=False,
            xaxis="x2",
            yaxis="y2",
        )
    )
    start, stop = window
    across = dict(type="rect", xref="x2 domain", yref="y2", x0=-0.15, x1=1.15)  # the strip's full width
    fig.add_shape(
        **across,
        y0=-start + 0.5,
        y1=-(stop - 1) - 0.5,
        line=dict(color=HIGHLIGHT, width=1.5),
        fillcolor="rgba(255,127,14,0.12)",
    )
    if token is not None and 0 <= token < n:  # at least MARK_PX tall however many tokens share the strip
        fig.add_shape(
            **across,
            ysizemode="pixel",
            yanchor=-token,
            y0=-MARK_PX / 2,
            y1=MARK_PX / 2,
            line=dict(width=0),
            fillcolor=HIGHLIGHT,
        )
    fig.update_layout(
        xaxis=dict(domain=GRAPH_DOMAIN),
        xaxis2=dict(
            domain=MINIMAP_DOMAIN,
            visible=False,
            fixedrange=True,
            anchor="y2",
            range=[start_at, high],
        ),
        yaxis2=dict(visible=False, range=[-n + 0.5, 0.5], fixedrange=True, anchor="x2"),
        bargap=0,
    )


def window_edges(
    matrix: np.ndarray,
    window: tuple[int, int],
    top_k: int,
    threshold: float,
    token: int | None,
    key: int | None = None,
) -> Edges:
    """The edges a graph view draws of one attention map [queries, keys]: its window's queries' strongest,
    and whoever attends to the selected key (None: no key selected) from outside the window (lines leave
    the view), kept as in_window says."""
    start, stop = window
    edges = prune_edges(matrix[start:stop], top_k, threshold, first_row=start)
    if key is not None and window != (0, max(matrix.shape)):
        outside = prune_edges(matrix, top_k, threshold)
        far = ((outside.source < start) | (outside.source >= stop)) & (outside.target == key)
        edges = edges.joined(outside.where(far))
    return in_window(edges, window, token, key)


def in_window(edges: Edges, window: tuple[int, int], token: int | None, key: int | None = None) -> Edges:
    """The edges a window draws: those between its tokens, and the selected token's own (and the selected
    key's, where keys are other tokens), whose lines leave the view towards a far token (long-range
    attention stays visible, other far edges would only cover the window in lines that lead nowhere)."""
    start, stop = window
    inside = (edges.source >= start) & (edges.source < stop) & (edges.target >= start) & (edges.target < stop)
    key = token if key is None else key
    return edges.where(inside | (edges.source == token) | (edges.target == key))


def window_note(window: tuple[int, int], n: int) -> str:
    """The title's note of what the window shows."""
    start, stop = window
    return f"tokens {start}–{stop - 1} of {n}"
