"""Job status records: what the UI and the CLI poll while a job is queued or running.

One record per job (queued -> running -> done | error | cancelled), an in-flight marker per cache
key (so identical requests share one job), and a queue of waiting jobs (for queue positions).
Two backends with the same behaviour: in memory (embedded executor) and in Redis (Celery, in the
broker's Redis, so the server and every worker see the same records).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import orjson
import redis

from interp.stages import Progress, Stage
from workers.job_status import CANCELLED, DONE, ERROR, QUEUED, RUNNING, TERMINAL, JobState, JobStatus  # noqa: F401

# A change to a record: gets the current record, returns the fields to change, or None to leave it.
Change = Callable[[dict[str, Any]], dict[str, Any] | None]


class JobRecords(ABC):
    """The operations on job records; backends supply atomic storage primitives."""

    def __init__(self, expires: int, inflight_ttl: int) -> None:
        self.expires = expires  # seconds a record lives after its last change
        self.inflight_ttl = inflight_ttl

    # --- storage primitives ---------------------------------------------------------------

    @abstractmethod
    def _insert(self, record: dict[str, Any]) -> None: ...

    @abstractmethod
    def _read(self, job_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def _change(self, job_id: str, change: Change) -> dict[str, Any] | None:
        """Apply `change` atomically; the new record, or None when missing or left unchanged."""

    @abstractmethod
    def _delete(self, job_id: str) -> None: ...

    @abstractmethod
    def claim(self, key: str, job_id: str) -> str | None:
        """Mark `job_id` as computing `key`, unless a job already is: then that job's id."""

    @abstractmethod
    def release(self, key: str, job_id: str) -> None:
        """Drop the in-flight marker of `key` if `job_id` still holds it."""

    @abstractmethod
    def holder(self, key: str) -> str | None:
        """The id of the job computing `key`, if any."""

    @abstractmethod
    def _enqueue(self, queue: str, job_id: str, at: float) -> None: ...

    @abstractmethod
    def _dequeue(self, queue: str, job_id: str) -> None: ...

    @abstractmethod
    def _rank(self, queue: str, job_id: str) -> int | None: ...

    # --- operations -------------------------------------------------------------------------

    def create(self, status: JobStatus) -> None:
        self._insert(status.to_dict())

    def discard(self, job_id: str) -> None:
        """Remove a record that never got queued (it lost the race for its key)."""
        self._delete(job_id)

    def enqueue(self, status: JobStatus) -> None:
        self._enqueue(status.queue, status.job_id, status.created_at)

    def get(self, job_id: str) -> JobStatus | None:
        record = self._read(job_id)
        if record is None:
            return None
        if record["state"] == QUEUED:
            rank = self._rank(record["queue"], job_id)
            record["queue_position"] = None if rank is None else rank + 1
        return JobStatus.from_dict(record)

    def start(self, job_id: str, worker: str) -> JobStatus | None:
        """A worker takes the job up: the running record, or None when it must not run (cancelled, finished, gone)."""

        def change(record: dict[str, Any]) -> dict[str, Any] | None:
            # RUNNING too: a redelivery after the previous worker was lost mid-job.
            if record["state"] not in (QUEUED, RUNNING) or record["cancel_requested"]:
                return None
            return {
                "state": RUNNING,
                "stage": Stage.STARTING,
                "progress": 0.0,
                "worker": worker,
                "started_at": time.time(),
                "deliveries": record["deliveries"] + 1,
            }

        record = self._change(job_id, change)
        if record is None:
            return None
        self._dequeue(record["queue"], job_id)
        return JobStatus.from_dict(record)

    def progress(self, job_id: str, progress: Progress, fraction: float, batch: int | None = None) -> None:
        changes = {
            "stage": progress.stage,
            "step": progress.step,
            "of": progress.of,
            "batch": batch,
            "progress": min(max(float(fraction), 0.0), 1.0),
        }
        self._change(job_id, lambda r: changes if r["state"] == RUNNING else None)

    def is_cancel_requested(self, job_id: str) -> bool:
        record = self._read(job_id)
        return record is None or bool(record["cancel_requested"])

    def finish(
        self, job_id: str, state: str, error: str | None = None, error_kind: str | None = None
    ) -> JobStatus | None:
        """The job's end; frees its key for a new job. No-op when it already ended."""
        assert state in TERMINAL

        def change(record: dict[str, Any]) -> dict[str, Any] | None:
            if record["state"] in TERMINAL:
                return None
            return {
                "state": state,
                "stage": Stage(state),
                "step": None,
                "of": None,
                "progress": 1.0 if state == DONE else record["progress"],
                "error": error,
                "error_kind": error_kind,
                "finished_at": time.time(),
            }

        record = self._change(job_id, change)
        if record is None:
            return None
        self._dequeue(record["queue"], job_id)
        self.release(record["key"], job_id)
        return JobStatus.from_dict(record)

    def cancel(self, job_id: str) -> JobStatus | None:
        """Ask a job to stop: a queued one ends now, a running one at its next progress report."""

        def change(record: dict[str, Any]) -> dict[str, Any] | None:
            if record["state"] in TERMINAL:
                return None
            return {"cancel_requested": True}

        record = self._change(job_id, change)
        if record is None:
            return None
        if record["state"] == QUEUED:
            return self.finish(job_id, CANCELLED) or self.get(job_id)
        return JobStatus.from_dict(record)


class MemoryJobRecords(JobRecords):
    """Records in this process, for the embedded executor."""

    def __init__(self, expires: int = 86_400, inflight_ttl: int = 86_400) -> None:
        super().__init__(expires, inflight_ttl)
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, Any]] = {}
        self._inflight: dict[str, str] = {}
        self._queues: dict[str, dict[str, float]] = {}

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

    def _enqueue(self, queue: str, job_id: str, at: float) -> None:
        with self._lock:
            self._queues.setdefault(queue, {})[job_id] = at

    def _dequeue(self, queue: str, job_id: str) -> None:
        with self._lock:
            self._queues.get(queue, {}).pop(job_id, None)

    def _rank(self, queue: str, job_id: str) -> int | None:
        with self._lock:
            waiting = self._queues.get(queue, {})
            if job_id not in waiting:
                return None
            return sorted(waiting, key=lambda j: (waiting[j], j)).index(job_id)

    def _expire_finished(self) -> None:
        cutoff = time.time() - self.expires
        old = [
            j for j, r in self._records.items() if r["finished_at"] is not None and r["finished_at"] < cutoff
        ]
        for job_id in old:
            del self._records[job_id]


class RedisJobRecords(JobRecords):
    """Records in Redis, shared by the web server and every worker: one hash per job, JSON field values."""

    PREFIX = "interpboard:"

    def __init__(self, client: redis.Redis, expires: int = 86_400, inflight_ttl: int = 86_400) -> None:
        super().__init__(expires, inflight_ttl)
        self.client = client

    def _record_key(self, job_id: str) -> str:
        return f"{self.PREFIX}jobrec:{job_id}"

    def _inflight_key(self, key: str) -> str:
        return f"{self.PREFIX}job:{key}"

    def _queue_key(self, queue: str) -> str:
        return f"{self.PREFIX}queue:{queue}"

    @staticmethod
    def _decode(raw: dict[bytes, bytes]) -> dict[str, Any]:
        return {k.decode(): orjson.loads(v) for k, v in raw.items()}

    @staticmethod
    def _encode(record: dict[str, Any]) -> dict[str, bytes]:
        return {k: orjson.dumps(v) for k, v in record.items()}

    def _insert(self, record: dict[str, Any]) -> None:
        name = self._record_key(record["job_id"])
        self.client.pipeline().hset(name, mapping=self._encode(record)).expire(name, self.expires).execute()

    def _read(self, job_id: str) -> dict[str, Any] | None:
        raw = self.client.hgetall(self._record_key(job_id))
        return self._decode(raw) if raw else None

    def _change(self, job_id: str, change: Change) -> dict[str, Any] | None:
        name = self._record_key(job_id)

        def transaction(pipe: redis.client.Pipeline) -> dict[str, Any] | None:
            raw = pipe.hgetall(name)
            record = self._decode(raw) if raw else None
            changes = None if record is None else change(record)
            if not changes:
                return None
            pipe.multi()
            pipe.hset(name, mapping=self._encode(changes))
            pipe.expire(name, self.expires)
            return {**record, **changes}

        return self.client.transaction(transaction, name, value_from_callable=True)

    def _delete(self, job_id: str) -> None:
        self.client.delete(self._record_key(job_id))

    def claim(self, key: str, job_id: str) -> str | None:
        name = self._inflight_key(key)
        if self.client.set(name, job_id, nx=True, ex=self.inflight_ttl):
            return None
        holder = self.client.get(name)
        # The holder may have let go in between: try once more rather than follow nobody.
        if holder is None:
            return self.claim(key, job_id)
        return holder.decode()

    def release(self, key: str, job_id: str) -> None:
        name = self._inflight_key(key)

        def transaction(pipe: redis.client.Pipeline) -> None:
            if pipe.get(name) == job_id.encode():
                pipe.multi()
                pipe.delete(name)

        self.client.transaction(transaction, name)

    def holder(self, key: str) -> str | None:
        value = self.client.get(self._inflight_key(key))
        return None if value is None else value.decode()

    def _enqueue(self, queue: str, job_id: str, at: float) -> None:
        self.client.zadd(self._queue_key(queue), {job_id: at})

    def _dequeue(self, queue: str, job_id: str) -> None:
        self.client.zrem(self._queue_key(queue), job_id)

    def _rank(self, queue: str, job_id: str) -> int | None:
        return self.client.zrank(self._queue_key(queue), job_id)
