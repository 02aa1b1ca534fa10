"""Any head's attention map from stored queries and keys (interp.qk_capture), in numpy. Torch-free: the web
rebuilds what it shows instead of the store keeping L·H·N² numbers.

    attention = rebuild(q, k, layout, layer, head)   # [N, N], block-diagonal over the sequences
    stack = AttentionStack(q, k, layout, lse)        # what Analysis.attention is when q/k were stored
    stack[layer]                                     # [H, N, N], rebuilt once, kept in a small LRU
    stack.rows(i), stack.columns(j)                  # [L, H, N]: one token's row / column, every layer

The rule is the models' own: scores = q·kᵀ·scale, soft-capped (cap·tanh(s/cap)) where the model caps
them, masked to earlier tokens (causal) and to the last `window` tokens on sliding layers, softmaxed.
`lse` (log of each row's softmax denominator, [L, H, N]) lets a column be read without its rows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

LAYERS_KEPT = 4  # rebuilt layers an AttentionStack keeps (a 12-head layer at 512 tokens is 12 MB)


def scores(q: np.ndarray, k: np.ndarray, layout: dict[str, Any], layer: int, head: int) -> np.ndarray:
    """The head's [N, N] scores as the model softmaxes them; -inf where a query may not look (masks, and
    across the sequences of a similarity pair)."""
    lengths = layout["lengths"]
    total = sum(lengths)
    out = np.full((total, total), -np.inf, dtype=np.float32)
    queries = q[layer, head].astype(np.float32)
    keys = k[layer, layout["kv_head_of_query"][head]].astype(np.float32)
    start = 0
    for length in lengths:
        block = slice(start, start + length)
        out[block, block] = _block_scores(
            queries[block] @ keys[block].T * np.float32(layout["scales"][layer]),
            layout["causal"],
            layout["windows"][layer],
            layout["softcap"],
        )
        start += length
    return out


def rebuild(q: np.ndarray, k: np.ndarray, layout: dict[str, Any], layer: int, head: int) -> np.ndarray:
    """q [L, H, N, d], k [L, H_kv, N, d] -> head's [N, N] attention (rows sum to 1 within their sequence)."""
    return softmax(scores(q, k, layout, layer, head))


def rebuild_layer(q: np.ndarray, k: np.ndarray, layout: dict[str, Any], layer: int) -> np.ndarray:
    """Every head of a layer: [H, N, N]."""
    return np.stack([rebuild(q, k, layout, layer, h) for h in range(q.shape[1])])


def softmax(s: np.ndarray) -> np.ndarray:
    top = s.max(axis=-1, keepdims=True)
    weights = np.exp(s - top)
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)


def log_normalisers(q: np.ndarray, k: np.ndarray, layout: dict[str, Any]) -> np.ndarray:
    """[L, H, N]: log Σ_j exp(score_ij) of each row, so that attention_ij = exp(score_ij - lse_i)."""
    L, H, N, _ = q.shape
    out = np.empty((L, H, N), dtype=np.float32)
    for layer in range(L):
        for head in range(H):
            s = scores(q, k, layout, layer, head)
            top = s.max(axis=-1)
            out[layer, head] = top + np.log(np.exp(s - top[:, None]).sum(axis=-1))
    return out


def _block_scores(s: np.ndarray, causal: bool, window: int | None, softcap: float | None) -> np.ndarray:
    if softcap:
        s = np.float32(softcap) * np.tanh(s / np.float32(softcap))
    n = s.shape[0]
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    return np.where(_allowed(i, j, causal, window), s, -np.inf)


def _allowed(i: np.ndarray, j: np.ndarray, causal: bool, window: int | None) -> np.ndarray:
    allowed = np.ones(np.broadcast(i, j).shape, dtype=bool)
    if causal:
        allowed &= j <= i
    if window:  # a query sees the last `window` tokens, itself included
        allowed &= i - j < window
    return allowed


class AttentionStack:
    """[L, H, N, N] attention that exists as q/k: indexing a layer rebuilds it (a few kept, least recently
    used out first); `np.asarray(stack)` builds all of it (JSON --full, exports: where it is really needed).
    """

    ndim = 4
    dtype = np.dtype(np.float32)

    def __init__(self, q: np.ndarray, k: np.ndarray, layout: dict[str, Any], lse: np.ndarray | None = None):
        self.q, self.k, self.layout, self.lse = q, k, layout, lse
        L, H, N, _ = q.shape
        self.shape = (L, H, N, N)
        self._layers: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        """What it may hold: q, k, lse and its kept layers."""
        L, H, N, _ = self.shape
        held = self.q.nbytes + self.k.nbytes + (0 if self.lse is None else self.lse.nbytes)
        return held + min(L, LAYERS_KEPT) * H * N * N * 4

    def layer(self, layer: int) -> np.ndarray:
        layer = range(self.shape[0])[layer]  # negative indices, and IndexError past the end
        with self._lock:
            if layer in self._layers:
                self._layers.move_to_end(layer)
                return self._layers[layer]
        built = rebuild_layer(self.q, self.k, self.layout, layer)
        built.flags.writeable = False  # shared by every view that reads it
        with self._lock:
            self._layers[layer] = built
            while len(self._layers) > LAYERS_KEPT:
                self._layers.popitem(last=False)
        return built

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            return self.layer(int(index))
        if isinstance(index, tuple) and index and isinstance(index[0], (int, np.integer)):
            return self.layer(int(index[0]))[index[1:]]
        return np.asarray(self)[index]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        full = np.stack([rebuild_layer(self.q, self.k, self.layout, l) for l in range(self.shape[0])])
        return full if dtype is None else full.astype(dtype)

    def rows(self, token: int) -> np.ndarray:
        """[L, H, N]: where token attends, in every layer and head, from q/k alone."""
        L, H, N, _ = self.shape
        out = np.zeros((L, H, N), dtype=np.float32)
        block, i = self._block_of(token)
        for layer in range(L):
            for head in range(H):
                out[layer, head, block] = softmax(self._row_scores(layer, head, block, i))
        return out

    def columns(self, token: int) -> np.ndarray:
        """[L, H, N]: who attends to token, in every layer and head (needs the stored lse)."""
        if self.lse is None:
            return np.asarray(self)[:, :, :, token]
        L, H, N, _ = self.shape
        out = np.zeros((L, H, N), dtype=np.float32)
        block, j = self._block_of(token)
        lay = self.layout
        for layer in range(L):
            scale = np.float32(lay["scales"][layer])
            for head in range(H):
                keys = self.k[layer, lay["kv_head_of_query"][head]]
                s = self.q[layer, head, block].astype(np.float32) @ keys[token].astype(np.float32) * scale
                if lay["softcap"]:
                    s = np.float32(lay["softcap"]) * np.tanh(s / np.float32(lay["softcap"]))
                i = np.arange(block.stop - block.start)
                s = np.where(_allowed(i, j, lay["causal"], lay["windows"][layer]), s, -np.inf)
                out[layer, head, block] = np.exp(s - self.lse[layer, head, block])
        return out

    def _block_of(self, token: int) -> tuple[slice, int]:
        """The token's sequence (a slice of the concatenated tokens) and its index inside it."""
        start = 0
        for length in self.layout["lengths"]:
            if token < start + length:
                return slice(start, start + length), token - start
            start += length
        raise IndexError(f"token {token} is out of range ({start} tokens)")

    def _row_scores(self, layer: int, head: int, block: slice, i: int) -> np.ndarray:
        lay = self.layout
        keys = self.k[layer, lay["kv_head_of_query"][head], block].astype(np.float32)
        s = keys @ self.q[layer, head, block.start + i].astype(np.float32) * np.float32(lay["scales"][layer])
        if lay["softcap"]:
            s = np.float32(lay["softcap"]) * np.tanh(s / np.float32(lay["softcap"]))
        j = np.arange(block.stop - block.start)
        return np.where(_allowed(np.asarray(i), j, lay["causal"], lay["windows"][layer]), s, -np.inf)


def token_rows(attention: Any, token: int) -> np.ndarray:
    """[L, H, N] where token attends, from dense attention or an AttentionStack."""
    return attention.rows(token) if isinstance(attention, AttentionStack) else attention[:, :, token, :]


def token_columns(attention: Any, token: int) -> np.ndarray:
    """[L, H, N] who attends to token, from dense attention or an AttentionStack."""
    return attention.columns(token) if isinstance(attention, AttentionStack) else attention[:, :, :, token]
