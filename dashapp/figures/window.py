"""Long inputs in the graph views: a window of tokens around the selection, sized by a pixel budget, and
a minimap of the whole sequence beside it whose bars select a token (and so move the window).

Below WINDOW_ROWS tokens a view shows them all, as before; above, its height stays bounded and every
label stays readable instead of the column of unlabelled dots a 512-token input used to make.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashapp.figures.common import HIGHLIGHT, accent, escape
from dashapp.figures.edge_lines import Edges

ROW_PX = 18  # one token's row: a readable label at plotly's default 12 px font
WINDOW_PX = 720  # the most a graph view's token rows may take
WINDOW_ROWS = WINDOW_PX // ROW_PX  # 40 tokens
MINIMAP_DOMAIN = (0.0, 0.06)  # the minimap's share of the figure's width, on the left
GRAPH_DOMAIN = (0.1, 1.0)


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
    outlined; clicking a bar selects its token. The graph moves to the right of it (x2/y2 are the minimap)."""
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
    fig.add_shape(
        type="rect",
        xref="x2 domain",
        yref="y2",
        x0=-0.15,
        x1=1.15,
        y0=-start + 0.5,
        y1=-(stop - 1) - 0.5,
        line=dict(color=HIGHLIGHT, width=1.5),
        fillcolor="rgba(255,127,14,0.12)",
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
