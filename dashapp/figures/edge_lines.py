"""Attention as lines between two columns of tokens (queries left, keys right): the pruning that keeps
the strongest edges and the line traces both graph views draw them with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go


@dataclass(frozen=True)
class Edges:
    source: np.ndarray  # query token index
    target: np.ndarray  # key token index
    weight: np.ndarray

    def where(self, mask: np.ndarray) -> Edges:
        return Edges(self.source[mask], self.target[mask], self.weight[mask])

    def joined(self, other: Edges) -> Edges:
        return Edges(*(np.concatenate(pair) for pair in zip(self.fields, other.fields)))

    @property
    def fields(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.source, self.target, self.weight


def prune_edges(matrix: np.ndarray, top_k: int, threshold: float = 0.0, first_row: int = 0) -> Edges:
    """The top_k strongest edges of each row that also reach `threshold` (rows numbered from first_row)."""
    n = matrix.shape[0]
    k = max(1, min(int(top_k), matrix.shape[1]))
    cols = np.argpartition(-matrix, k - 1, axis=1)[:, :k]
    rows = np.repeat(np.arange(n), k)
    cols = cols.reshape(-1)
    weights = matrix[rows, cols]
    keep = weights >= threshold
    return Edges(rows[keep] + first_row, cols[keep], weights[keep].astype(np.float32))


def edge_trace(
    edges: Edges, at: tuple[np.ndarray, np.ndarray] | None = None, **style: Any
) -> go.Scatter | None:
    """One trace of line segments from (0, -query) to (1, -key), None-separated; None when there are none.

    Plotly draws one width and colour per trace, so callers group edges by strength (or by selection)."""
    if not edges.source.size:
        return None
    count = edges.source.size
    xs = np.tile(np.array([0.0, 1.0, np.nan]), count)
    ys = np.empty(3 * count)
    query_y, key_y = at if at is not None else (-edges.source, -edges.target)
    if at is not None:  # each side's own y per token (dashapp.figures.attention_graph.side_positions)
        query_y, key_y = query_y[edges.source], key_y[edges.target]
    ys[0::3], ys[1::3], ys[2::3] = query_y, key_y, np.nan

    # Lists with None, not NaN arrays: plotly.js breaks lines at null, and the tests read the gaps back.
    def to_list(values: np.ndarray) -> list:
        return [None if np.isnan(v) else (int(v) if v == int(v) else round(v, 4)) for v in values.tolist()]

    return go.Scatter(x=to_list(xs), y=to_list(ys), mode="lines", hoverinfo="skip", **style)
