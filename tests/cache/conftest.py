"""Fixtures for the result store: every behavioural test runs against diskcache and real Redis."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from cache import ResultStore, open_store

BACKENDS = ("diskcache", "redis")


@pytest.fixture
def store_url(request, tmp_path) -> str:
    """A fresh store location of the requested backend (a tmp directory, or a flushed Redis DB)."""
    if request.param == "redis":
        return request.getfixturevalue("redis_url")
    return str(tmp_path / "results")


@pytest.fixture
def store(store_url: str) -> ResultStore:
    s = open_store(store_url)
    yield s
    s.close()


def pytest_generate_tests(metafunc):
    if "store_url" in metafunc.fixturenames:
        metafunc.parametrize("store_url", BACKENDS, indirect=True)


def make_meta(
    key: str = "k1",
    *,
    model: str = "tiny-bert-mlm",
    task: str = "mlm",
    text: str = "the [MASK] sat",
    pair: str | None = None,
    created_at: float | None = None,
    n_tokens: int = 5,
) -> dict[str, Any]:
    """Metadata shaped like the job layer's: request dict, key, timing, worker, tokens."""
    return {
        "request": {
            "model": model,
            "task": task,
            "text": text,
            "pair": pair,
            "mask_index": None,
            "target": None,
            "methods": ["grad_norm"],
            "top_k": 10,
            "ig_steps": 50,
        },
        "fingerprint": "abc123",
        "engine": "1",
        "key": key,
        "created_at": time.time() if created_at is None else created_at,
        "compute_seconds": 1.25,
        "worker": "host-1",
        "tokens": [f"t{i}" for i in range(n_tokens)],
    }


def make_arrays(n: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(2, 3, n, n))
    attention = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return {
        "attention": attention.astype(np.float16),
        "attention_sensitivity": rng.random((2, n, n)).astype(np.float16),
        "saliency.grad_norm": rng.random(n).astype(np.float32),
        "head_entropy": rng.random((2, 3)).astype(np.float32),
    }


def assert_same_arrays(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == set(want)
    for name, array in want.items():
        assert got[name].dtype == array.dtype, name
        assert got[name].shape == array.shape, name
        np.testing.assert_array_equal(got[name], array, err_msg=name)
