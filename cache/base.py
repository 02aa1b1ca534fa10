"""The store interface both backends share: validation, encoding, rejection, listing.

A backend only moves bytes: it writes a value together with its index row atomically, reads
values back, and yields live index rows newest first. Everything about what a value means lives
here and in `cache.codec`.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any, TypeVar

import numpy as np

from cache import codec
from cache.codec import Record, RejectedValue
from cache.rows import index_row, row_filter

log = logging.getLogger(__name__)

PARTIAL_TTL_SECONDS = 3600
# get_meta reads this much of a value first: the metadata sits at its start, and a cached 512-token
# analysis runs to tens of MB, which every submit of that request would otherwise fetch. zstd
# decodes whole blocks of at most 128 KiB, so the head holds the first block and its frame header.
META_HEAD_BYTES = 129 * 1024
MAX_LIMIT = 10_000
# Content keys are sha256 hex; allow any short word-like key but no separators, so a key can
# never reach into another namespace of the store (partials, index).
_KEY_RE = re.compile(r"[A-Za-z0-9_.-]{1,200}")

T = TypeVar("T")


class CacheUnavailable(RuntimeError):
    """The backend cannot be reached or failed; the message names it (password masked)."""


class ResultStore(ABC):
    """Analyses by content key: JSON meta + named arrays, an index for History, stage-by-stage partials."""

    # Backend exceptions that mean "the store is unavailable" (wrapped in CacheUnavailable).
    backend_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, *, ttl_seconds: float | None = None) -> None:
        if ttl_seconds is not None and (
            isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, (int, float)) or not ttl_seconds > 0
        ):
            raise ValueError(f"ttl_seconds must be a positive number of seconds or None, not {ttl_seconds!r}")
        self.ttl_seconds = ttl_seconds

    # --- public interface --------------------------------------------------------------------

    def put(self, key: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> int:
        """Store atomically (value, index row; the partial goes). Returns the stored value's bytes."""
        _check_key(key)
        blob = codec.encode(meta, arrays)
        row = index_row(key, meta, len(blob))
        with self._backend():
            self._write(key, blob, row)
        return len(blob)

    def get(self, key: str) -> Record | None:
        return self._load(key, self._read, codec.decode)

    def get_meta(self, key: str) -> dict[str, Any] | None:
        """The metadata alone, from the value's first bytes where they hold it."""

        def meta() -> dict[str, Any] | None:
            blob = self._read_head(key, META_HEAD_BYTES)
            if blob is not None and len(blob) == META_HEAD_BYTES:  # the value may go on
                try:
                    return codec.decode_meta(blob)
                except RejectedValue:  # cut short by the head, or damaged: the whole value decides
                    blob = self._read(key)
            return None if blob is None else codec.decode_meta(blob)

        return self._guarded(key, meta)

    def contains(self, key: str) -> bool:
        """A value is stored under key (not decoded: one that would be rejected counts too)."""
        _check_key(key)
        with self._backend():
            return self._contains(key)

    def put_partial(self, key: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> int:
        """One more stage of a running job: its meta and the arrays it added (earlier ones stay stored).

        Stages expire an hour after the latest one; the final put removes them. One job writes a key.
        """
        _check_key(key)
        blob = codec.encode(meta, arrays)
        with self._backend():
            self._append_partial(key, blob)
        return len(blob)

    def get_partial(self, key: str) -> Record | None:
        """The stages so far as one record: the latest stage's meta, every stage's arrays."""

        def merged() -> Record | None:
            stages = [codec.decode(blob) for blob in self._read_partials(key)]
            if not stages:
                return None
            arrays: dict[str, np.ndarray] = {}
            for stage in stages:
                arrays.update(stage.arrays)
            return Record(stages[-1].meta, arrays)

        return self._guarded(key, merged)

    def partial_stages(self, key: str) -> int:
        """How many stages of a running job are stored (0: none); cheap, for readers that cache."""
        _check_key(key)
        with self._backend():
            return self._count_partials(key)

    def delete(self, key: str) -> bool:
        """Remove value, partial, index row and the parts its meta lists; True when there was a value or row."""
        _check_key(key)
        meta = self.get_meta(key)  # None for a damaged value: it goes all the same
        parts = meta.get("parts") if isinstance(meta, dict) else None
        with self._backend():
            for name in parts if isinstance(parts, dict) else ():
                if isinstance(name, str) and _KEY_RE.fullmatch(part_key(key, name)):
                    self._delete_plain(part_key(key, name))
            return self._delete(key)

    # --- parts: entries of their own under an analysis key, not listed in History ------------

    def put_part(self, key: str, name: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> int:
        """Store one part of the analysis `key` (e.g. "sensitivity.3") beside it; no index row.

        The analysis's meta lists its parts by name (meta["parts"]), so deleting it deletes them too.
        """
        entry = part_key(key, name)
        _check_key(entry)
        blob = codec.encode(meta, arrays)
        with self._backend():
            self._write_plain(entry, blob)
        return len(blob)

    def get_part(self, key: str, name: str) -> Record | None:
        return self._load(part_key(key, name), self._read, codec.decode)

    def stored_parts(self, key: str, names: list[str]) -> list[str]:
        """Which of the named parts of `key` are stored (cheap: nothing is read or decoded)."""
        entries = [part_key(key, name) for name in names]
        for entry in entries:
            _check_key(entry)
        with self._backend():
            present = self._existing(entries)
        return [name for name, entry in zip(names, entries, strict=True) if entry in present]

    def index(
        self,
        model: str | None = None,
        task: str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Index rows newest first, filtered (model, task exact; q in text or pair, any case)."""
        for name, value in (("limit", limit), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
        limit = min(limit, MAX_LIMIT)
        with self._backend():
            return list(islice(filter(row_filter(model, task, q), self._rows()), offset, offset + limit))

    def count(self, model: str | None = None, task: str | None = None, q: str | None = None) -> int:
        with self._backend():
            return sum(1 for _ in filter(row_filter(model, task, q), self._rows()))

    @abstractmethod
    def ping(self) -> bool:
        """The backend answers (for health checks); never raises."""

    @property
    @abstractmethod
    def url_for_logs(self) -> str:
        """Where the store is, safe to log: any password masked."""

    @abstractmethod
    def close(self) -> None:
        """Release connections (the store reopens them if used again)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url_for_logs!r})"

    # --- what a backend provides -------------------------------------------------------------

    @abstractmethod
    def _write(self, key: str, blob: bytes, row: dict[str, Any]) -> None:
        """Value + index row in one transaction; also drops the partial."""

    @abstractmethod
    def _read(self, key: str) -> object | None: ...

    @abstractmethod
    def _read_head(self, key: str, size: int) -> bytes | None:
        """The value's first `size` bytes (all of it when shorter); None when there is none."""

    @abstractmethod
    def _contains(self, key: str) -> bool: ...

    @abstractmethod
    def _append_partial(self, key: str, blob: bytes) -> None:
        """Store blob as the key's next stage and renew the expiry of all its stages."""

    @abstractmethod
    def _read_partials(self, key: str) -> list[object]:
        """The key's stage blobs in order; [] when there are none or one has gone."""

    @abstractmethod
    def _count_partials(self, key: str) -> int: ...

    @abstractmethod
    def _delete(self, key: str) -> bool: ...

    @abstractmethod
    def _write_plain(self, name: str, blob: bytes) -> None:
        """A value without an index row (a part), with the store's TTL."""

    @abstractmethod
    def _delete_plain(self, name: str) -> None: ...

    def _existing(self, names: list[str]) -> set[str]:
        return {name for name in names if self._contains(name)}

    @abstractmethod
    def _rows(self) -> Iterator[dict[str, Any]]:
        """Index rows whose value still exists, newest first (pruning rows whose value is gone)."""

    # --- helpers ------------------------------------------------------------------------------

    def _load(
        self, key: str, read: Callable[[str], object | None], decode: Callable[[object], T]
    ) -> T | None:
        return self._guarded(key, lambda: None if (blob := read(key)) is None else decode(blob))

    def _guarded(self, key: str, produce: Callable[[], T | None]) -> T | None:
        """produce() on a valid key; a value we refuse to read (not our format, damaged) is a miss."""
        _check_key(key)
        try:
            with self._backend():
                return produce()
        except RejectedValue as exc:
            log.warning(
                "cache %s: rejected the value under %s (treated as a miss): %s", self.url_for_logs, key, exc
            )
            return None

    @contextmanager
    def _backend(self) -> Iterator[None]:
        try:
            yield
        except self.backend_errors as exc:
            raise CacheUnavailable(
                f"result store {self.url_for_logs} failed: {type(exc).__name__}: {exc}"
            ) from None


def part_key(key: str, name: str) -> str:
    """Where part `name` of the analysis `key` is stored: "<key>.sensitivity.3"."""
    return f"{key}.{name}"


def _check_key(key: object) -> None:
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise ValueError(
            f"invalid cache key {key!r}: expected 1-200 characters of letters, digits, '_', '.', '-'"
        )
