"""Get latency of a cached bert-base-shaped analysis at 64 tokens, diskcache and Redis.

The record has bert-base shapes and the engine's dtypes (attention [12, 12, 64, 64] and
sensitivity [12, 64, 64] float16, 4 saliency vectors and head stats float32, meta with 64
tokens). Attention is synthetic but peaky (softmax of wide random logits), so it compresses
about as real attention does. Redis: 127.0.0.1:6379 DB 7, emptied before and after.

Target: p50 <= 50 ms on both backends. Last line: ratio=<worst p50 / 50 ms>.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script without installing

from cache import ResultStore, open_store

REDIS_URL = "redis://127.0.0.1:6379/7"
N_TOKENS, N_LAYERS, N_HEADS = 64, 12, 12
GETS = 200
TARGET_SECONDS = 0.050
KEY = "b" * 64


def record() -> tuple[dict, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=4.0, size=(N_LAYERS, N_HEADS, N_TOKENS, N_TOKENS))
    attention = np.exp(logits - logits.max(-1, keepdims=True))
    attention /= attention.sum(-1, keepdims=True)
    arrays = {
        "attention": attention.astype(np.float16),
        "attention_sensitivity": rng.lognormal(-4.0, 1.5, (N_LAYERS, N_TOKENS, N_TOKENS)).astype(np.float16),
        **{
            f"saliency.{m}": rng.random(N_TOKENS).astype(np.float32)
            for m in ("grad_norm", "grad_x_input", "integrated_gradients", "attention_rollout")
        },
        **{
            f"head_{s}": rng.random((N_LAYERS, N_HEADS)).astype(np.float32)
            for s in ("entropy", "special_share", "mean_distance")
        },
    }
    tokens = [f"token{i}" for i in range(N_TOKENS)]
    meta = {
        "request": {"model": "bert-base-uncased", "task": "sst", "text": " ".join(tokens), "pair": None},
        "key": KEY,
        "created_at": time.time(),
        "compute_seconds": 3.0,
        "worker": "bench",
        "tokens": tokens,
        "predictions": [{"label": "positive", "score": 0.9}, {"label": "negative", "score": 0.1}],
    }
    return meta, arrays


def measure(name: str, store: ResultStore) -> float:
    """Put the record once, then time GETS gets of it; prints and returns p50 seconds."""
    stored = store.put(KEY, *record())
    assert store.get(KEY) is not None  # warm: connection, page cache
    seconds = []
    for _ in range(GETS):
        start = time.perf_counter()
        store.get(KEY)
        seconds.append(time.perf_counter() - start)
    store.close()
    p50 = statistics.median(seconds)
    p95 = statistics.quantiles(seconds, n=20)[-1]
    print(f"{name}: p50={p50 * 1000:.2f} ms  p95={p95 * 1000:.2f} ms  ({GETS} gets of {stored} stored bytes)")
    return p50


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        disk_p50 = measure("diskcache", open_store(directory))
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        redis_p50 = measure("redis", open_store(REDIS_URL))
    finally:
        client.flushdb()
    print(f"ratio={max(disk_p50, redis_p50) / TARGET_SECONDS:.4f}")


if __name__ == "__main__":
    main()
