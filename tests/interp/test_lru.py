"""interp.lru.LoadingLRU: the bounded cache of decoded analyses (web) and loaded models (engine)."""

from __future__ import annotations

import threading
import time

import pytest

from interp.lru import LoadingLRU


def test_least_recently_used_goes_first_and_evictions_are_reported():
    dropped = []
    lru = LoadingLRU(lambda: (2, float("inf")), on_evict=dropped.append)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # now the most recent
    lru.put("c", 3)
    assert list(lru) == ["a", "c"] and dropped == [2] and "b" not in lru and len(lru) == 2
    assert lru.pop("a") == 1 and lru.pop("a") is None


def test_size_limit_keeps_the_newest_even_when_it_alone_is_over():
    limits = [(10, 5.0)]
    lru = LoadingLRU(lambda: limits[0], size=float)
    lru.put("small", 2)
    lru.put("medium", 3)
    assert list(lru) == ["small", "medium"]
    lru.put("huge", 100)
    assert list(lru) == ["huge"]
    limits[0] = (1, float("inf"))  # limits are read at every eviction
    lru.put("next", 1)
    assert list(lru) == ["next"]


def test_concurrent_misses_on_a_key_load_once():
    lru = LoadingLRU(lambda: (4, float("inf")))
    calls, got = [], []

    def load() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "value"

    threads = [threading.Thread(target=lambda: got.append(lru.get_or_load("k", load))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["value"] * 4 and len(calls) == 1
    assert lru._loading == {}  # no loader lock outlives its load


def test_none_is_returned_not_kept_and_a_failed_load_is_retried():
    lru = LoadingLRU(lambda: (4, float("inf")))
    assert lru.get_or_load("k", lambda: None) is None and "k" not in lru

    def fail() -> str:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        lru.get_or_load("k", fail)
    assert lru.get_or_load("k", lambda: "second try") == "second try"
    assert lru.get_or_load("k", fail) == "second try"  # a hit: not loaded again
    assert lru._loading == {}
