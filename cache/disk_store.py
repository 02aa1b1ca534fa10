"""The embedded backend: a diskcache directory (SQLite + files), shared by local processes.

Each analysis is one diskcache entry: the value is the codec blob and the entry's *tag* column
holds its JSON index row. Value and row are therefore written, expired, evicted (size_limit,
least-recently-stored) and deleted together, in one SQLite transaction, and History lists rows
with one query instead of loading entries one by one.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import diskcache
import orjson
from diskcache.core import DBNAME, MODE_BINARY, MODE_RAW, UNKNOWN

from cache.base import PARTIAL_TTL_SECONDS, ResultStore
from cache.codec import RejectedValue

SQLITE_TIMEOUT_SECONDS = 10  # diskcache's default of 60 s would hang a web request on a busy writer
_OVERWRITE_RETRIES = 5
# ':' cannot occur in a key, so partials never collide with values. "partials:<key>" holds the number
# of stages stored, "partials:<key>:<i>" stage i's blob ("partials", not the "partial:<key>" of the
# one-blob format before it: such an entry expires on its own).
_PARTIAL_PREFIX = "partials:"


class BytesOnlyDisk(diskcache.Disk):
    """diskcache serialisation that never pickles and never unpickles, keys or values."""

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise TypeError(f"cache keys must be str, not {type(key).__name__}")
        return super().put(key)

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise RejectedValue("refusing a pickled key")
        return super().get(key, raw)

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> tuple[int, int, str | None, Any]:
        if type(value) is not bytes:
            raise TypeError(f"the result store keeps bytes only, not {type(value).__name__}")
        return super().store(value, read, key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode not in (MODE_RAW, MODE_BINARY):
            raise RejectedValue(f"refusing a value stored in diskcache mode {mode} (pickle or text)")
        return super().fetch(mode, filename, value, read)


class DiskStore(ResultStore):
    backend_errors = (diskcache.Timeout, sqlite3.Error, OSError)

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        ttl_seconds: float | None = None,
        size_limit_bytes: int | None = None,
    ) -> None:
        self.directory = Path(directory).expanduser()
        super().__init__(ttl_seconds=ttl_seconds)
        settings: dict[str, Any] = {"eviction_policy": "least-recently-stored"}
        if size_limit_bytes is not None:
            if (
                isinstance(size_limit_bytes, bool)
                or not isinstance(size_limit_bytes, int)
                or size_limit_bytes <= 0
            ):
                raise ValueError(f"size_limit_bytes must be a positive integer, not {size_limit_bytes!r}")
            settings["size_limit"] = size_limit_bytes
        with self._backend():
            self._cache = diskcache.Cache(
                str(self.directory), timeout=SQLITE_TIMEOUT_SECONDS, disk=BytesOnlyDisk, **settings
            )

    @property
    def url_for_logs(self) -> str:
        return str(self.directory)

    def ping(self) -> bool:
        try:
            self._cache.volume()
            return True
        except self.backend_errors:
            return False

    def close(self) -> None:
        self._cache.close()

    def _write(self, key: str, blob: bytes, row: dict[str, Any]) -> None:
        # One set is one transaction for value and row. Not wrapped in transact() with the
        # partial's removal: inside an outer transaction diskcache deletes the replaced value's
        # file before the commit, so readers would miss. A partial beside its result is harmless.
        self._cache.set(key, blob, expire=self.ttl_seconds, tag=orjson.dumps(row).decode())
        self._drop_partials(key)

    def _read(self, key: str) -> object | None:
        return self._fetch(key)

    def _write_plain(self, name: str, blob: bytes) -> None:
        self._cache.set(name, blob, expire=self.ttl_seconds)  # no tag: History lists tagged entries only

    def _delete_plain(self, name: str) -> None:
        self._cache.delete(name)

    def _read_head(self, key: str, size: int) -> bytes | None:
        value = self._fetch(key, read=True)  # a big value comes as an open file, a small one as bytes
        if not hasattr(value, "read"):
            return value[:size] if isinstance(value, bytes) else value
        with value:
            return value.read(size)

    def _contains(self, key: str) -> bool:
        return key in self._cache

    def _append_partial(self, key: str, blob: bytes) -> None:
        stages = self._count_partials(key)  # one job writes a key's stages, so nobody else appends meanwhile
        self._cache.set(_stage_name(key, stages), blob, expire=PARTIAL_TTL_SECONDS)
        for earlier in range(stages):
            self._cache.touch(_stage_name(key, earlier), expire=PARTIAL_TTL_SECONDS)
        # The count last: a reader never finds a stage counted that is not stored yet.
        self._cache.set(_PARTIAL_PREFIX + key, str(stages + 1).encode(), expire=PARTIAL_TTL_SECONDS)

    def _read_partials(self, key: str) -> list[object]:
        blobs = [self._fetch(_stage_name(key, stage)) for stage in range(self._count_partials(key))]
        return [] if None in blobs else blobs  # a stage gone (evicted): no partial rather than half of one

    def _count_partials(self, key: str) -> int:
        count = self._fetch(_PARTIAL_PREFIX + key)
        if count is None:
            return 0
        if not isinstance(count, bytes) or not count.isdigit():
            raise RejectedValue("a partial's stage count is not a number")
        return int(count)

    def _drop_partials(self, key: str) -> None:
        try:
            stages = self._count_partials(key)
        except RejectedValue:
            stages = 0  # not ours to read; deleting it is enough
        self._cache.delete(_PARTIAL_PREFIX + key)
        for stage in range(stages):
            self._cache.delete(_stage_name(key, stage))

    def _fetch(self, name: str, read: bool = False) -> object | None:
        # diskcache answers a miss when an overwrite removes the value's file between its row
        # lookup and the file read; the entry is still there, so look again.
        for _ in range(_OVERWRITE_RETRIES):
            value = self._cache.get(name, read=read)
            if value is not None or name not in self._cache:
                return value
        return None

    def _delete(self, key: str) -> bool:
        with self._cache.transact():
            self._drop_partials(key)
            return self._cache.delete(key)

    def _rows(self) -> Iterator[dict[str, Any]]:
        # diskcache has no API over tags, so read its Cache table (schema stable since diskcache 3)
        # on a connection of our own; expired entries linger there until culled, hence the filter.
        query = (
            "SELECT tag FROM Cache WHERE json_valid(tag) AND (expire_time IS NULL OR expire_time > ?)"
            " ORDER BY json_extract(tag, '$.created_at') DESC"
        )
        with closing(sqlite3.connect(self.directory / DBNAME, timeout=SQLITE_TIMEOUT_SECONDS)) as con:
            tags = con.execute(query, (time.time(),)).fetchall()
        return (orjson.loads(tag) for (tag,) in tags)


def _stage_name(key: str, stage: int) -> str:
    return f"{_PARTIAL_PREFIX}{key}:{stage}"
