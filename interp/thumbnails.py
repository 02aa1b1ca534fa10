"""Small per-head attention thumbnails for the model overview (dashapp/figures/model_grid.py). Torch-free.

The worker stores them with the analysis, so the overview never needs every layer's full attention
(which, stored as q/k, would mean rebuilding all of it).
"""

from __future__ import annotations

import numpy as np

GRID_CELLS = 200  # thumbnails share about this many cells across the longer side of the grid
MIN_THUMB = 8


def downsample(matrix: np.ndarray, size: int) -> np.ndarray:
    """Block means over a size × size grid of (nearly) equal blocks (of the last two axes)."""
    n = matrix.shape[-1]
    if n <= size:
        return matrix
    starts = np.linspace(0, n, size, endpoint=False).astype(int)
    counts = np.diff(np.append(starts, n))
    sums = np.add.reduceat(np.add.reduceat(matrix, starts, axis=-2), starts, axis=-1)
    return sums / np.outer(counts, counts)


def thumb_size(n_tokens: int, layers: int, heads: int) -> int:
    return min(n_tokens, max(MIN_THUMB, GRID_CELLS // max(layers, heads)))


def thumbnails(attention: np.ndarray) -> np.ndarray:
    """[L, H, n, n] (or any stack a layer at a time) -> [L, H, s, s] block means at the overview's size."""
    L, H, n = attention.shape[0], attention.shape[1], attention.shape[-1]
    size = thumb_size(n, L, H)
    return np.stack([downsample(np.asarray(attention[l], dtype=np.float32), size) for l in range(L)])
