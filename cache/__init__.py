"""The shared result store: analyses as JSON metadata + named numpy arrays, by content key.

    store = open_store(url)          # None/"" -> default diskcache dir; a path or file:// -> diskcache;
                                     # redis:// or rediss:// -> Redis
    store.put(key, meta, arrays); store.get(key) -> Record | None; store.index(...)

Never imports torch or the rest of the project; never pickles.
"""

from __future__ import annotations

from cache.base import CacheUnavailable, ResultStore
from cache.codec import Record, RejectedValue
from cache.disk_store import DiskStore
from cache.redis_store import RedisStore
from cache.urls import directory_of, is_redis_url, mask_password

__all__ = [
    "CacheUnavailable",
    "DiskStore",
    "Record",
    "RedisStore",
    "RejectedValue",
    "ResultStore",
    "mask_password",
    "open_store",
]


def open_store(
    url: str | None = None, *, ttl_seconds: float | None = None, size_limit_bytes: int | None = None
) -> ResultStore:
    """The store a URL names ($INTERPBOARD_CACHE, read by the job layer)."""
    if url and is_redis_url(url):
        return RedisStore(url, ttl_seconds=ttl_seconds)
    return DiskStore(directory_of(url), ttl_seconds=ttl_seconds, size_limit_bytes=size_limit_bytes)
