"""Rollout and head statistics at a size where their shortcuts matter, against the plain float64 formulas."""

from __future__ import annotations

import numpy as np
import pytest

from interp.attention import head_stats, rollout
from interp.attention_rebuild import AttentionStack

LENGTHS = (70, 50)  # two sequences: block-diagonal maps, zeros across them


def _attention(seed: int = 0) -> np.ndarray:
    """[3, 4, N, N] sharp random attention, block-diagonal over LENGTHS, causal within each block."""
    rng = np.random.default_rng(seed)
    N = sum(LENGTHS)
    out = np.zeros((3, 4, N, N), dtype=np.float32)
    start = 0
    for n in LENGTHS:
        block = rng.random((3, 4, n, n)) ** 8 * np.tril(np.ones((n, n)))
        out[..., start : start + n, start : start + n] = block / block.sum(-1, keepdims=True)
        start += n
    return out


def _full_product_rollout(attention: np.ndarray, rows: list[list[int]]) -> np.ndarray:
    """Abnar & Zuidema as written: the whole N x N product of every layer's mixed map, then its rows read."""
    n = attention.shape[-1]
    joint = np.eye(n)
    for layer in attention.astype(np.float64):
        mixed = layer.mean(0) + np.eye(n)
        joint = (mixed / mixed.sum(-1, keepdims=True)) @ joint
    return sum(joint[group].mean(0) for group in rows)


@pytest.mark.parametrize("rows", [[[0]], [[0, 3, 9]], [[0], [70]], [[69], [71, 119]]])
def test_rollout_carries_the_rows_read_as_the_full_product_reads_them(rows):
    attention = _attention()
    np.testing.assert_allclose(rollout(attention, rows), _full_product_rollout(attention, rows), rtol=1e-6)


def test_rollout_of_rebuilt_attention_equals_it_of_dense_attention():
    rng = np.random.default_rng(1)
    L, H, N, d = 3, 4, sum(LENGTHS), 8
    layout = {
        "lengths": list(LENGTHS),
        "scales": [d**-0.5] * L,
        "causal": True,
        "windows": [None] * L,
        "softcap": None,
        "kv_head_of_query": list(range(H)),
    }
    q, k = (rng.normal(size=(L, H, N, d)).astype(np.float16) for _ in range(2))
    stack = AttentionStack(q, k, layout)
    np.testing.assert_allclose(
        rollout(stack, [[0], [70]]), rollout(np.asarray(stack), [[0], [70]]), rtol=1e-6
    )


def test_head_stats_equal_float64_sums():
    attention = _attention(2)
    N = attention.shape[-1]
    special = [i in (0, 69, 70, N - 1) for i in range(N)]
    stats = head_stats(attention, special)
    distance = np.abs(np.arange(N)[:, None] - np.arange(N)[None, :])
    for layer in range(attention.shape[0]):
        for head in range(attention.shape[1]):
            p = attention[layer, head].astype(np.float64)
            logs = np.log(np.where(p > 0, p, 1.0))  # p log p = 0 where p = 0 (the masked half)
            assert stats["entropy"][layer, head] == pytest.approx(-(p * logs).sum(-1).mean(), rel=1e-6)
            assert stats["special_share"][layer, head] == pytest.approx((p @ special).mean(), rel=1e-6)
            assert stats["mean_distance"][layer, head] == pytest.approx(
                (p * distance).sum(-1).mean(), rel=1e-6
            )
