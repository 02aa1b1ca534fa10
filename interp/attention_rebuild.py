"""Any head's attention map from stored queries and keys (interp.qk_capture), in numpy. Torch-free: the web
rebuilds what it shows instead of the store keeping L·H·N² numbers.

    attention = rebuild(q, k, layout, layer, head)   # [N, N], block-diagonal over the sequences

The rule is the models' own: scores = q·kᵀ·scale, soft-capped (cap·tanh(s/cap)) where the model caps
them, masked to earlier tokens (causal) and to the last `window` tokens on sliding layers, softmaxed.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def rebuild(q: np.ndarray, k: np.ndarray, layout: dict[str, Any], layer: int, head: int) -> np.ndarray:
    """q [L, H, N, d], k [L, H_kv, N, d] -> head's [N, N] attention (rows sum to 1 within their sequence)."""
    lengths = layout["lengths"]
    total = sum(lengths)
    out = np.zeros((total, total), dtype=np.float32)
    queries = q[layer, head].astype(np.float32)
    keys = k[layer, layout["kv_head_of_query"][head]].astype(np.float32)
    start = 0
    for length in lengths:
        block = slice(start, start + length)
        out[block, block] = _softmax_rows(
            queries[block] @ keys[block].T * np.float32(layout["scales"][layer]),
            layout["causal"],
            layout["windows"][layer],
            layout["softcap"],
        )
        start += length
    return out


def rebuild_layer(q: np.ndarray, k: np.ndarray, layout: dict[str, Any], layer: int) -> np.ndarray:
    """Every head of a layer: [H, N, N]."""
    return np.stack([rebuild(q, k, layout, layer, h) for h in range(q.shape[1])])


def _softmax_rows(scores: np.ndarray, causal: bool, window: int | None, softcap: float | None) -> np.ndarray:
    if softcap:
        scores = np.float32(softcap) * np.tanh(scores / np.float32(softcap))
    n = scores.shape[0]
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    allowed = np.ones((n, n), dtype=bool)
    if causal:
        allowed &= j <= i
    if window:  # a query sees the last `window` tokens, itself included
        allowed &= i - j < window
    scores = np.where(allowed, scores, -np.inf)
    scores -= scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=1, keepdims=True)
