"""Attention maps of one request, attention rollout, and per-head statistics."""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import threadpool_limits


def request_attention(attentions: tuple[torch.Tensor, ...], b: int, lengths: list[int]) -> np.ndarray:
    """Request b's attention, [L, H, N, N]: per layer [B*S, H, n, n] maps made block-diagonal over its S sequences.

    Copied once, a layer at a time, into the result: stacking the layers first copied a 1,024-token LLM's
    GB of attention twice (and held both copies)."""
    S, total = len(lengths), sum(lengths)
    heads = attentions[0].shape[1]
    # One sequence fills the whole map; several leave zeros across sequences.
    out = (np.empty if S == 1 else np.zeros)((len(attentions), heads, total, total), dtype=np.float32)
    for l, layer in enumerate(attentions):
        start = 0
        for s, length in enumerate(lengths):
            block = slice(start, start + length)
            out[l, :, block, block] = layer[b * S + s, :, :length, :length].detach().float().cpu().numpy()
            start += length
    return out


def rollout(attention: np.ndarray, rows: list[list[int]]) -> np.ndarray:
    """Abnar & Zuidema's attention rollout, read at the given rows: [N].

    Heads averaged, identity added for the residual stream, rows renormalised, then multiplied
    through the layers. Each group of rows is averaged (similarity: one group per sentence);
    in block-diagonal maps a group's rows are zero outside its own sentence, so groups add up.
    """
    n = attention.shape[-1]
    joint = np.eye(n, dtype=np.float64)
    for layer in attention.astype(np.float64):
        mixed = layer.mean(0) + np.eye(n)
        joint = (mixed / mixed.sum(-1, keepdims=True)) @ joint
    return sum(joint[group].mean(0) for group in rows).astype(np.float32)


def head_stats(attention: np.ndarray, special_tokens: list[bool]) -> dict[str, np.ndarray]:
    """Per layer and head, means over query rows: entropy (nats), attention share on special tokens,
    and attention distance |i - k|. Each [L, H].

    In float64 a head at a time (a 1,024-token head is 8 MB, it stays in cache; float64 copies of a layer
    or of the whole attention are hundreds of MB to GBs), row sums as matrix products on one BLAS thread
    (small products: see interp.attention_rebuild)."""
    L, H, n = attention.shape[0], attention.shape[1], attention.shape[-1]
    special = np.asarray(special_tokens, dtype=np.float64)
    distance = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]).astype(np.float64)
    stats = {name: np.empty((L, H)) for name in ("entropy", "special_share", "mean_distance")}
    scratch = np.empty((n, n))
    with threadpool_limits(1, user_api="blas"):
        for l in range(L):
            layer = attention[l]  # an AttentionStack rebuilds it once
            for h in range(H):
                p = layer[h].astype(np.float64)
                np.log(p, out=scratch, where=p > 0)
                scratch[p <= 0] = 0.0
                scratch *= p
                stats["entropy"][l, h] = -scratch.sum(-1).mean()
                stats["special_share"][l, h] = (p @ special).mean()
                np.multiply(p, distance, out=scratch)
                stats["mean_distance"][l, h] = scratch.sum(-1).mean()
    return {name: values.astype(np.float32) for name, values in stats.items()}
