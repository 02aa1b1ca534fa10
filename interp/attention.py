"""Attention maps of one request, attention rollout, and per-head statistics."""

from __future__ import annotations

import numpy as np
import torch


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

    Only the rows read are carried, from the last layer down (r · M_L ··· M_1, vector times matrix):
    the full product M_L ··· M_1 is L n³ where this is L n², and the heads are averaged a layer at a
    time in float64 without a float64 copy of the attention (at 512 tokens bert-base's is 300 MB).
    `attention` may be an AttentionStack: a layer is rebuilt once.
    """
    L, H, n = attention.shape[0], attention.shape[1], attention.shape[-1]
    read = np.zeros(n)
    for group in rows:
        np.add.at(read, group, 1.0 / len(group))
    diagonal = np.arange(n)
    for layer in reversed(range(L)):
        mixed = attention[layer].sum(0, dtype=np.float64) / H
        mixed[diagonal, diagonal] += 1.0
        mixed /= mixed.sum(-1, keepdims=True)
        read = read @ mixed
    return read.astype(np.float32)


def head_stats(attention: np.ndarray, special_tokens: list[bool]) -> dict[str, np.ndarray]:
    """Per layer and head, means over query rows: entropy (nats), attention share on special tokens,
    and attention distance |i - k|. Each [L, H].

    A head at a time in float32 (a 512-token head is 1 MB and stays in cache), each sum accumulated in
    float64: a mean over rows of row sums is the whole map's sum over n. float64 copies of each head took
    twice as long and agreed to 1e-7. p·log p is 0 at p = 0 (log of float32's smallest normal there).
    """
    L, H, n = attention.shape[0], attention.shape[1], attention.shape[-1]
    special = np.asarray(special_tokens, dtype=np.float64)
    distance = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]).astype(np.float32)  # exact below 2^24
    tiny = np.finfo(np.float32).tiny
    stats = {name: np.empty((L, H)) for name in ("entropy", "special_share", "mean_distance")}
    scratch = np.empty((n, n), dtype=np.float32)
    for l in range(L):
        layer = attention[l]  # an AttentionStack rebuilds it once
        for h in range(H):
            p = layer[h]
            np.maximum(p, tiny, out=scratch)
            np.log(scratch, out=scratch)
            scratch *= p
            stats["entropy"][l, h] = -scratch.sum(dtype=np.float64) / n
            stats["special_share"][l, h] = p.sum(0, dtype=np.float64) @ special / n
            np.multiply(p, distance, out=scratch)
            stats["mean_distance"][l, h] = scratch.sum(dtype=np.float64) / n
    return {name: values.astype(np.float32) for name, values in stats.items()}
