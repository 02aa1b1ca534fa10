"""Job status records: what the UI and the CLI poll while a job is queued or running.

One record per job (queued -> running -> done | error | cancelled), an in-flight marker per cache
key (so identical requests share one job), and sorted indexes: the waiting jobs of each queue (queue
positions), the unfinished jobs of each client (its cap and priority), and the running jobs by last
heartbeat (lost jobs).
Two backends with the same behaviour: in memory (workers/memory_records.py, the embedded executor)
and in Redis (workers/redis_records.py, in the broker's Redis, shared by the server and every worker).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from interp.stages import Progress, Stage
from workers.job_status import CANCELLED, DONE, ERROR, QUEUED, RUNNING, TERMINAL, JobState, JobStatus  # noqa: F401

# A change to a record: gets the current record, returns the fields to change, or None to leave it.
Change = Callable[[dict[str, Any]], dict[str, Any] | None]
RUNNING_INDEX = "running"  # job id -> its last heartbeat
LOST_MESSAGE = "the worker running this job stopped answering (lost {times} times); try again"


class CorruptRecord(ValueError):
    """A stored record that does not parse: read as a job that ended in an error, never a crash."""


def queue_index(queue: str) -> str:
    return f"queue:{queue}"


def client_index(client: str) -> str:
    return f"client:{client}"


def queue_score(priority: int, at: float) -> float:
    """Waiting order: priority first (0 first), then submission time."""
    return priority * 1e10 + at


class JobRecords(ABC):
    """The operations on job records; backends supply atomic storage primitives."""

    def __init__(self, expires: int, inflight_ttl: int, lost_after: float = 30.0) -> None:
        self.expires = expires  # seconds a record lives after its last change
        self.inflight_ttl = inflight_ttl
        self.lost_after = lost_after  # seconds without a heartbeat after which a running job is lost

    # --- storage primitives ---------------------------------------------------------------

    @abstractmethod
    def _insert(self, record: dict[str, Any]) -> None: ...

    @abstractmethod
    def _read(self, job_id: str) -> dict[str, Any] | None:
        """The record; CorruptRecord when it does not parse."""

    @abstractmethod
    def _change(self, job_id: str, change: Change) -> dict[str, Any] | None:
        """Apply `change` atomically; the new record, or None when missing, corrupt or left unchanged."""

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
    def _index_add(self, index: str, job_id: str, score: float) -> None: ...

    @abstractmethod
    def _index_remove(self, index: str, job_id: str) -> None: ...

    @abstractmethod
    def _index_rank(self, index: str, job_id: str) -> int | None: ...

    @abstractmethod
    def _index_count(self, index: str) -> int: ...

    @abstractmethod
    def _index_below(self, index: str, score: float) -> list[str]:
        """The ids whose score is below `score`."""

    @abstractmethod
    def _index_names(self, prefix: str) -> list[str]:
        """The indexes whose name starts with `prefix`."""

    # --- operations -------------------------------------------------------------------------

    def create(self, status: JobStatus) -> None:
        self._insert(status.to_dict())

    def discard(self, job_id: str) -> None:
        """Remove a record that never got queued (it lost the race for its key)."""
        self._delete(job_id)

    def enqueue(self, status: JobStatus) -> None:
        self._index_add(
            queue_index(status.queue), status.job_id, queue_score(status.priority, status.created_at)
        )
        self._index_add(client_index(status.client), status.job_id, status.created_at)

    def _unqueue(self, record: dict[str, Any]) -> None:
        self._index_remove(queue_index(record["queue"]), record["job_id"])

    def queued(self, queue: str) -> int:
        return self._index_count(queue_index(queue))

    def queued_by(self, client: str) -> int:
        """The client's unfinished jobs: waiting or running (a running one holds a worker too)."""
        return self._index_count(client_index(client))

    def queued_ids(self) -> dict[str, list[str]]:
        """Every queue's waiting job ids (for the broker reconciliation)."""
        prefix = queue_index("")
        return {
            name[len(prefix) :]: self._index_below(name, float("inf")) for name in self._index_names(prefix)
        }

    def get(self, job_id: str) -> JobStatus | None:
        """The job's status; a record that does not parse reads as a job ended in an internal error."""
        try:
            record = self._read(job_id)
            if record is None:
                return None
            if record["state"] == QUEUED:
                rank = self._index_rank(queue_index(record["queue"]), job_id)
                record["queue_position"] = None if rank is None else rank + 1
            return JobStatus.from_dict(record)
        except (CorruptRecord, KeyError, TypeError, ValidationError) as exc:
            detail = str(exc) if isinstance(exc, CorruptRecord) else f"the record of job {job_id} is corrupt"
            return JobStatus(
                job_id=job_id, key="", state=ERROR, stage=Stage.ERROR, error=detail, error_kind="internal"
            )

    def start(self, job_id: str, worker: str) -> JobStatus | None:
        """A worker takes the job up: the running record, or None when it must not run (cancelled,
        finished, gone, or running elsewhere with a fresh heartbeat: a stale message of a requeued job)."""
        now = time.time()

        def change(record: dict[str, Any]) -> dict[str, Any] | None:
            if record["state"] not in (QUEUED, RUNNING) or record["cancel_requested"]:
                return None
            if record["state"] == RUNNING and not self._silent(record, now):
                return None
            return {
                "state": RUNNING,
                "stage": Stage.STARTING,
                "progress": 0.0,
                "worker": worker,
                "started_at": now,
                "heartbeat_at": now,
                "deliveries": record["deliveries"] + 1,
            }

        record = self._change(job_id, change)
        if record is None:
            return None
        self._unqueue(record)
        self._index_add(RUNNING_INDEX, job_id, now)
        return JobStatus.from_dict(record)

    def _silent(self, record: dict[str, Any], now: float) -> bool:
        """A running job whose worker has not been heard of for `lost_after` seconds."""
        last = record.get("heartbeat_at") or record.get("started_at") or record["created_at"]
        return now - last > self.lost_after

    def beat(self, job_id: str) -> JobStatus | None:
        """The job's worker is alive; the record as it stands (None once the job ended elsewhere)."""
        now = time.time()
        record = self._change(job_id, lambda r: {"heartbeat_at": now} if r["state"] == RUNNING else None)
        if record is None:
            return None
        self._index_add(RUNNING_INDEX, job_id, now)
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
        try:
            record = self._read(job_id)
        except CorruptRecord:
            return True
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
        self._unqueue(record)
        self._index_remove(client_index(record.get("client", "local")), job_id)
        self._index_remove(RUNNING_INDEX, job_id)
        self.release(record["key"], job_id)
        return JobStatus.from_dict(record)

    def cancel(self, job_id: str) -> JobStatus | None:
        """Ask a job to stop: a queued (or lost) one ends now, a running one at its next check."""
        now = time.time()

        def change(record: dict[str, Any]) -> dict[str, Any] | None:
            if record["state"] in TERMINAL:
                return None
            return {"cancel_requested": True, "cancel_requested_at": record.get("cancel_requested_at") or now}

        record = self._change(job_id, change)
        if record is None:
            return None
        if record["state"] == QUEUED or self._silent(record, now):
            return self.finish(job_id, CANCELLED) or self.get(job_id)
        return JobStatus.from_dict(record)

    def lost(self) -> list[str]:
        """Running jobs silent for `lost_after` seconds (by the running index: no scan of records)."""
        return self._index_below(RUNNING_INDEX, time.time() - self.lost_after)

    def running(self) -> list[str]:
        return self._index_below(RUNNING_INDEX, float("inf"))

    def reap(self, job_id: str, max_retries: int) -> JobStatus | None:
        """End or requeue a lost job: the requeued status (send it again), or None when it ended or was not lost.

        A job that used up its deliveries ends with error_kind "lost"; a cancelled one as cancelled.
        """
        now = time.time()

        def change(record: dict[str, Any]) -> dict[str, Any] | None:
            # Checked again inside the transaction: a heartbeat or a cancel may have come in between.
            if record["state"] != RUNNING or not self._silent(record, now) or record["cancel_requested"]:
                return None
            return {
                "state": QUEUED,
                "stage": Stage.QUEUED,
                "step": None,
                "of": None,
                "progress": 0.0,
                "worker": None,
                "heartbeat_at": None,
                "priority": 0,  # it has waited since it was created: ahead of every later job
            }

        try:
            record = self._read(job_id)
        except CorruptRecord:
            record = None
        if record is None or record["state"] != RUNNING:
            self._index_remove(RUNNING_INDEX, job_id)
            return None
        if not self._silent(record, now):
            return None
        if record["cancel_requested"]:
            self.finish(job_id, CANCELLED)
            return None
        if record["deliveries"] > max_retries:
            self.finish(job_id, ERROR, LOST_MESSAGE.format(times=record["deliveries"]), "lost")
            return None
        requeued = self._change(job_id, change)
        if requeued is None:
            return None
        self._index_remove(RUNNING_INDEX, job_id)
        status = JobStatus.from_dict(requeued)
        self.enqueue(status)
        return status

    def set_message(self, job_id: str, message_id: str) -> None:
        self._change(job_id, lambda r: {"message_id": message_id} if r["state"] not in TERMINAL else None)
