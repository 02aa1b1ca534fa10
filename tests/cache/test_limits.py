"""Expiry (TTL) and size limits."""

from __future__ import annotations

import time

import numpy as np
import pytest
import redis

from cache import open_store
from cache.base import PARTIAL_TTL_SECONDS
from cache.redis_store import partial_name, value_name
from tests.cache.conftest import make_arrays, make_meta


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_entry_with_ttl_expires(store_url):
    store = open_store(store_url, ttl_seconds=1)
    store.put("short", make_meta("short"), make_arrays())
    assert store.get("short") is not None
    assert wait_until(lambda: store.get("short") is None)
    assert not store.contains("short")
    assert store.index() == []
    assert store.count() == 0


def test_without_ttl_entries_do_not_expire(store_url):
    store = open_store(store_url)
    store.put("keep", make_meta("keep"), make_arrays())
    if store_url.startswith("redis://"):
        assert redis.Redis.from_url(store_url).ttl(value_name("keep")) == -1
    else:
        assert store._cache.get("keep", expire_time=True)[1] is None


def test_partials_expire_after_an_hour(store):
    store.put_partial("p", make_meta("p"), make_arrays())
    store.put_partial("p", make_meta("p"), {})
    if type(store).__name__ == "RedisStore":
        ttls = [redis.Redis.from_url(store.url_for_logs).ttl(partial_name("p"))]  # one hash holds every stage
    else:
        ttls = [
            store._cache.get(name, expire_time=True)[1] - time.time()
            for name in ("partials:p", "partials:p:0", "partials:p:1")
        ]
    assert all(0 < ttl <= PARTIAL_TTL_SECONDS for ttl in ttls)


@pytest.mark.parametrize("ttl", [0, -5, True, "1"])
def test_bad_ttl_is_refused(store_url, ttl):
    with pytest.raises(ValueError, match="ttl_seconds"):
        open_store(store_url, ttl_seconds=ttl)


def test_diskcache_size_limit_evicts_oldest(tmp_path):
    store = open_store(str(tmp_path), size_limit_bytes=400_000)
    rng = np.random.default_rng(0)
    for i in range(12):  # ~80 kB each of incompressible data: ~1 MB in all
        store.put(
            f"k{i:02d}",
            make_meta(f"k{i:02d}", created_at=float(i)),
            {"noise": rng.integers(0, 2**32, size=20_000, dtype=np.uint32)},
        )
    present = [i for i in range(12) if store.contains(f"k{i:02d}")]
    assert present, "the newest entries stay"
    assert 11 in present
    assert 0 not in present, "the oldest was evicted"
    assert present == list(range(present[0], 12)), "eviction goes oldest first"
    assert [row["key"] for row in store.index()] == [f"k{i:02d}" for i in reversed(present)]


@pytest.mark.parametrize("size", [0, -1, 1.5])
def test_bad_size_limit_is_refused(tmp_path, size):
    with pytest.raises(ValueError, match="size_limit_bytes"):
        open_store(str(tmp_path), size_limit_bytes=size)
