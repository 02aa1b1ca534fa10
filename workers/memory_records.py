"""Job records in this process, for the embedded executor (the operations live in workers/jobs.py)."""

from __future__ import annotations

import threading
import time
from typing import Any

from workers.jobs import Change, JobRecords


class MemoryJobRecords(JobRecords):
    """Records in this process, for the embedded executor."""

    def __init__(self, expires: int = 86_400, inflight_ttl: int = 86_400, lost_after: float = 30.0) -> None:
        super().__init__(expires, inflight_ttl, lost_after)
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, Any]] = {}
        self._inflight: dict[str, str] = {}
        self._indexes: dict[str, dict[str, float]] = {}

    def _insert(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._expire_finished()
            self._records[record["job_id"]] = dict(record)

    def _read(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._records.get(job_id)
            return None if record is None else dict(record)

    def _change(self, job_id: str, change: Change) -> dict[str, Any] | None:
        with self._lock:
            record = self._records.get(job_id)
            changes = None if record is None else change(dict(record))
            if not changes:
                return None
            record.update(changes)
            return dict(record)

    def _delete(self, job_id: str) -> None:
        with self._lock:
            self._records.pop(job_id, None)

    def claim(self, key: str, job_id: str) -> str | None:
        with self._lock:
            holder = self._inflight.setdefault(key, job_id)
            return None if holder == job_id else holder

    def release(self, key: str, job_id: str) -> None:
        with self._lock:
            if self._inflight.get(key) == job_id:
                del self._inflight[key]

    def holder(self, key: str) -> str | None:
        with self._lock:
            return self._inflight.get(key)

    def _index_add(self, index: str, job_id: str, score: float) -> None:
        with self._lock:
            self._indexes.setdefault(index, {})[job_id] = score

    def _index_remove(self, index: str, job_id: str) -> None:
        with self._lock:
            members = self._indexes.get(index, {})
            members.pop(job_id, None)
            if not members:
                self._indexes.pop(index, None)

    def _index_rank(self, index: str, job_id: str) -> int | None:
        with self._lock:
            members = self._indexes.get(index, {})
            if job_id not in members:
                return None
            return sorted(members, key=lambda j: (members[j], j)).index(job_id)

    def _index_count(self, index: str) -> int:
        with self._lock:
            return len(self._indexes.get(index, {}))

    def _index_below(self, index: str, score: float) -> list[str]:
        with self._lock:
            members = self._indexes.get(index, {})
            return sorted((j for j, s in members.items() if s < score), key=lambda j: (members[j], j))

    def _index_names(self, prefix: str) -> list[str]:
        with self._lock:
            return [name for name in self._indexes if name.startswith(prefix)]

    def _expire_finished(self) -> None:
        cutoff = time.time() - self.expires
        old = [
            j for j, r in self._records.items() if r["finished_at"] is not None and r["finished_at"] < cutoff
        ]
        for job_id in old:
            del self._records[job_id]
