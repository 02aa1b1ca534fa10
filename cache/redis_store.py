"""The shared backend: Redis, for a team server with several worker machines.

Keys (all under ``interpboard:``)::

    interpboard:result:<key>    the codec blob (string), TTL = ttl_seconds (none by default)
    interpboard:result:<key>.<part>   one part of an analysis (cache.base.part_key), no index entry
    interpboard:partials:<key>  hash: stage number -> that stage's blob (its new arrays), TTL 1 h
    interpboard:index           sorted set: key -> created_at
    interpboard:rows            hash: key -> JSON index row

A put writes value, row and index entry (and drops the partial) in one MULTI/EXEC. Values may
vanish on their own (TTL, eviction), leaving their index entry behind; listing checks each
entry's value and prunes dead ones with a small script that re-checks inside Redis, so a value
stored again meanwhile keeps its entry.

Redis configuration
-------------------
Run the result cache on its own Redis instance (or at least not the broker's) with
``maxmemory <bytes>`` and ``maxmemory-policy allkeys-lru``: every value can be recomputed, so
when memory runs out Redis should drop the analyses nobody has looked at for longest rather
than refuse writes. The index keys are touched by every put and listing, so LRU keeps them;
with ``ttl_seconds`` set, ``volatile-lru`` also works and never evicts the index at all.

The Celery broker / job-record instance must use ``maxmemory-policy noeviction``: evicting
there silently deletes queued tasks, results and job records — jobs would hang or vanish with
no error. Since the policy is per instance, cache and broker need separate instances (or the
cache must fit in memory for good).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import redis

from cache.base import PARTIAL_TTL_SECONDS, ResultStore
from cache.codec import RejectedValue
from cache.urls import mask_password

PREFIX = b"interpboard:"
INDEX = PREFIX + b"index"
ROWS = PREFIX + b"rows"
_CHUNK = 500  # index entries checked per round trip while listing

# KEYS = [index, rows, value key of each member...], ARGV = the members.
_PRUNE_SCRIPT = """
for i, member in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i + 2]) == 0 then
    redis.call('ZREM', KEYS[1], member)
    redis.call('HDEL', KEYS[2], member)
  end
end
"""


def value_name(key: str | bytes) -> bytes:
    return PREFIX + b"result:" + (key.encode() if isinstance(key, str) else key)


def partial_name(key: str) -> bytes:
    # "partials", not the "partial" of the one-blob format before it: such a string expires on its own.
    return PREFIX + b"partials:" + key.encode()


class RedisStore(ResultStore):
    """Results in Redis. `size_limit_bytes` does not apply: the server's maxmemory bounds memory."""

    backend_errors = (redis.RedisError,)

    def __init__(self, url: str, *, ttl_seconds: float | None = None) -> None:
        self._url_for_logs = mask_password(url)
        super().__init__(ttl_seconds=ttl_seconds)
        try:
            self._redis = redis.Redis.from_url(
                url,
                decode_responses=False,
                socket_connect_timeout=2,
                socket_timeout=5,
                health_check_interval=30,
            )
        except ValueError:
            # from None: the original message may quote parts of the URL
            raise ValueError(f"invalid Redis URL {self._url_for_logs}") from None
        self._prune = self._redis.register_script(_PRUNE_SCRIPT)

    @property
    def url_for_logs(self) -> str:
        return self._url_for_logs

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._redis.close()

    def _ttl_ms(self) -> int | None:
        return None if self.ttl_seconds is None else max(1, round(self.ttl_seconds * 1000))

    def _write(self, key: str, blob: bytes, row: dict[str, Any]) -> None:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(value_name(key), blob, px=self._ttl_ms())
            pipe.delete(partial_name(key))
            pipe.hset(ROWS, key, orjson.dumps(row))
            pipe.zadd(INDEX, {key: row["created_at"]})
            pipe.execute()

    def _read(self, key: str) -> object | None:
        return self._redis.get(value_name(key))

    def _write_plain(self, name: str, blob: bytes) -> None:
        self._redis.set(value_name(name), blob, px=self._ttl_ms())  # not in the index: History skips it

    def _delete_plain(self, name: str) -> None:
        self._redis.delete(value_name(name))

    def _existing(self, names: list[str]) -> set[str]:
        with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.exists(value_name(name))
            found = pipe.execute()
        return {name for name, hit in zip(names, found, strict=True) if hit}

    def _read_head(self, key: str, size: int) -> bytes | None:
        head = self._redis.getrange(value_name(key), 0, size - 1)
        return head or None  # GETRANGE answers b"" for a missing key (a stored value is never empty)

    def _contains(self, key: str) -> bool:
        return bool(self._redis.exists(value_name(key)))

    def _append_partial(self, key: str, blob: bytes) -> None:
        name = partial_name(key)
        stage = self._redis.hlen(name)  # one job writes a key's stages, so nobody else appends meanwhile
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(name, str(stage), blob)
            pipe.expire(name, PARTIAL_TTL_SECONDS)
            pipe.execute()

    def _read_partials(self, key: str) -> list[object]:
        stages = self._redis.hgetall(partial_name(key))
        if not all(field.isdigit() for field in stages):
            raise RejectedValue("a partial stage is not numbered")
        return [stages[field] for field in sorted(stages, key=int)]

    def _count_partials(self, key: str) -> int:
        return self._redis.hlen(partial_name(key))

    def _delete(self, key: str) -> bool:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(value_name(key))
            pipe.delete(partial_name(key))
            pipe.hdel(ROWS, key)
            pipe.zrem(INDEX, key)
            had_value, _, had_row, _ = pipe.execute()
        return bool(had_value or had_row)

    def _rows(self) -> Iterator[dict[str, Any]]:
        members: list[bytes] = self._redis.zrevrange(INDEX, 0, -1)
        for start in range(0, len(members), _CHUNK):
            chunk = members[start : start + _CHUNK]
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.hmget(ROWS, chunk)
                for member in chunk:
                    pipe.exists(value_name(member))
                rows, *alive = pipe.execute()
            dead = [m for m, row, ok in zip(chunk, rows, alive, strict=True) if not ok or row is None]
            if dead:
                self._prune(keys=[INDEX, ROWS, *map(value_name, dead)], args=dead)
            yield from (
                orjson.loads(row) for row, ok in zip(rows, alive, strict=True) if ok and row is not None
            )
