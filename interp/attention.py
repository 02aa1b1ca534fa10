"""Attention maps of one request, attention rollout, and per-head statistics."""

from __future__ import annotations

import numpy as np
import torch

from interp.tokens import block_diagonal


def request_attention(attentions: tuple[torch.Tensor, ...], b: int, lengths: list[int]) -> np.ndarray:
    """Request b's attention, [L, H, N, N]: per layer [B*S, H, n, n] maps made block-diagonal over its S sequences."""
    S = len(lengths)
    stacked = torch.stack([a[b * S : (b + 1) * S] for a in attentions], dim=1)  # [S, L, H, n, n]
    return block_diagonal(stacked, lengths)


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
    and attention distance |i - k|. Each [L, H]."""
    n = attention.shape[-1]
    special = np.asarray(special_tokens, dtype=bool)
    distance = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    stats: dict[str, list[np.ndarray]] = {"entropy": [], "special_share": [], "mean_distance": []}
    for (
        layer
    ) in attention:  # a layer at a time: float64 copies of a 1,024-token LLM's whole attention are GBs
        p = layer.astype(np.float64)
        stats["entropy"].append(-(p * np.log(np.where(p > 0, p, 1.0))).sum(-1).mean(-1))
        stats["special_share"].append(p[..., special].sum(-1).mean(-1))
        stats["mean_distance"].append((p * distance).sum(-1).mean(-1))
    return {name: np.stack(values).astype(np.float32) for name, values in stats.items()}
