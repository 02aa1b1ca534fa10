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

import functools
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

LAYERS_KEPT = 4  # rebuilt layers an AttentionStack keeps (a 12-head layer at 512 tokens is 12 MB)


def layer_scores(
    q: np.ndarray, k: np.ndarray, layout: dict[str, Any], layer: int, heads: Any = None, every: int = 1
) -> np.ndarray:
    """The layer's [H, N, N] scores as the model softmaxes them (every head, or `heads`); -inf where a query
    may not look (masks, and across the sequences of a similarity pair). every > 1: only the query rows
    0, every, 2·every, ... ([H, ceil(N / every), N])."""
    heads = range(q.shape[1]) if heads is None else heads
    queries = q[layer, heads].astype(np.float32)
    keys = k[layer, [layout["kv_head_of_query"][h] for h in heads]].astype(np.float32)
    total, whole = sum(layout["lengths"]), len(layout["lengths"]) == 1 and every == 1
    # One sequence, every row: its scores are the whole map; otherwise -inf across sequences.
    out = None if whole else np.full((len(queries), -(-total // every), total), -np.inf, dtype=np.float32)
    start = 0
    for length in layout["lengths"]:
        block = slice(start, start + length)
        rows = np.arange(-(-start // every) * every, start + length, every)  # this sequence's sampled rows
        # One BLAS thread: these are small per-head products, and OpenBLAS's threads spin-wait on each other;
        # on a shared CPU (a worker beside the web, or other workers) two threads took ~6x longer than one.
        # The limit is the process's: web threads rebuilding at once may leave it at one, which is harmless.
        with _blas().limit(limits=1, user_api="blas"):
            s = np.matmul(queries[:, rows], keys[:, block].transpose(0, 2, 1))
        s *= np.float32(layout["scales"][layer])
        if layout["softcap"]:
            cap = np.float32(layout["softcap"])
            s = cap * np.tanh(s / cap)
        mask = _mask(length, layout["causal"], layout["windows"][layer])[rows - start]
        np.copyto(s, -np.inf, where=~mask)
        if out is None:
            return s
        out[:, rows // every, block] = s
        start += length
    return out


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's thread pools, found once: threadpool_limits looks for them on every call (5 ms each,
    a 12-layer model's storing spent 0.1 s on it)."""
    return ThreadpoolController()


def scores(q: np.ndarray, k: np.ndarray, layout: dict[str, Any], layer: int, head: int) -> np.ndarray:
    """One head's [N, N] scores (see layer_scores)."""
    return layer_scores(q, k, layout, layer, [head])[0]


def rebuild(q: np.ndarray, k: np.ndarray, layout: dict[str, Any], layer: int, head: int) -> np.ndarray:
    """q [L, H, N, d], k [L, H_kv, N, d] -> head's [N, N] attention (rows sum to 1 within their sequence)."""
    return softmax(scores(q, k, layout, layer, head))


def rebuild_layer(q: np.ndarray, k: np.ndarray, layout: dict[str, Any], layer: int) -> np.ndarray:
    """Every head of a layer: [H, N, N]."""
    return softmax(layer_scores(q, k, layout, layer))


def softmax(s: np.ndarray) -> np.ndarray:
    """Along the last axis, in place (s is float32 scores, -inf where masked)."""
    s -= s.max(axis=-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=-1, keepdims=True)
    return s


def log_normalisers(s: np.ndarray) -> np.ndarray:
    """log Σ_j exp(s_ij) of each row of scores: attention_ij = exp(s_ij - lse_i)."""
    top = s.max(axis=-1)
    return top + np.log(np.exp(s - top[..., None]).sum(axis=-1))


@functools.lru_cache(maxsize=16)
def _mask(n: int, causal: bool, window: int | None) -> np.ndarray:
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    mask = _allowed(i, j, causal, window)
    mask.flags.writeable = False
    return mask


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
        return block_of(self.layout["lengths"], token)

    def _row_scores(self, layer: int, head: int, block: slice, i: int) -> np.ndarray:
        lay = self.layout
        keys = self.k[layer, lay["kv_head_of_query"][head], block].astype(np.float32)
        s = keys @ self.q[layer, head, block.start + i].astype(np.float32) * np.float32(lay["scales"][layer])
        if lay["softcap"]:
            s = np.float32(lay["softcap"]) * np.tanh(s / np.float32(lay["softcap"]))
        j = np.arange(block.stop - block.start)
        return np.where(_allowed(np.asarray(i), j, lay["causal"], lay["windows"][layer]), s, -np.inf)


def block_of(lengths: list[int], token: int) -> tuple[slice, int]:
    """The token's sequence (a slice of the concatenated tokens) and its index inside it."""
    start = 0
    for length in lengths:
        if 0 <= token < start + length:
            return slice(start, start + length), token - start
        start += length
    raise IndexError(f"token {token} is out of range ({start} tokens)")


def neuron_row(
    q: np.ndarray, k: np.ndarray, layout: dict[str, Any], layer: int, head: int, token: int
) -> dict[str, Any]:
    """BertViz's neuron view of one head and query token, from stored q/k: the query [d], the keys it may
    see [n, d] (its sequence; earlier tokens where causal; the window on sliding layers), q∘k [n, d], the
    scores the model softmaxes [n] (q·k·scale, soft-capped where the model caps them) and the attention [n].
    key_offset: the analysis token index of keys[0]; query_index: the query's index in its sequence."""
    L, H = q.shape[:2]
    if not 0 <= layer < L:
        raise IndexError(f"layer {layer} is out of range: the model has {L} layers (0 to {L - 1})")
    if not 0 <= head < H:
        raise IndexError(f"head {head} is out of range: the model has {H} heads (0 to {H - 1})")
    if "key_lengths" in layout:  # a seq2seq kind: one query sequence, one key sequence (cross: the source)
        block, i = block_of(layout["lengths"], token)
        block = slice(0, layout["key_lengths"][0])
    else:
        block, i = block_of(layout["lengths"], token)
    window = layout["windows"][layer]
    stop = token + 1 if layout["causal"] else block.stop
    start = max(block.start, token - window + 1) if window else block.start
    query = q[layer, head, token].astype(np.float32)
    keys = k[layer, layout["kv_head_of_query"][head], start:stop].astype(np.float32)
    products = query * keys
    s = products.sum(axis=-1) * np.float32(layout["scales"][layer])
    if layout["softcap"]:
        s = np.float32(layout["softcap"]) * np.tanh(s / np.float32(layout["softcap"]))
    return {
        "layer": layer,
        "head": head,
        "query_index": i,
        "key_offset": start,
        "query": query,
        "keys": keys,
        "products": products,
        "scores": s,
        "attention": softmax(s.copy()),
    }


def token_rows(attention: Any, token: int) -> np.ndarray:
    """[L, H, N] where token attends, from dense attention or an AttentionStack."""
    return attention.rows(token) if isinstance(attention, AttentionStack) else attention[:, :, token, :]


def token_columns(attention: Any, token: int) -> np.ndarray:
    """[L, H, N] who attends to token, from dense attention or an AttentionStack."""
    return attention.columns(token) if isinstance(attention, AttentionStack) else attention[:, :, :, token]
