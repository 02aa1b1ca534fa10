"""Liveness: the heartbeat a running job's worker sends, and the reaper that ends or requeues lost jobs.

A job's worker beats every `heartbeat_interval` from a thread of its own (so a long stage still
beats) and watches for the user's cancel once a second. A running job silent for `lost_after` seconds
is lost: requeued (up to `max_retries` deliveries) or ended with error_kind "lost", which frees its
key. Every worker sweeps for lost jobs every `reap_interval`, and the web looks at each job it reads:
there is no single process that must stay up. Celery's visibility timeout stays the last resort.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from workers.job_status import RUNNING, JobStatus
from workers.jobs import CANCELLED, JobRecords
from workers.settings import Settings

log = logging.getLogger(__name__)
CANCEL_POLL_SECONDS = 1.0


class JobCancelled(Exception):
    """Raised inside a job's work to stop it when the user cancelled."""


class Heartbeat:
    """Beats for the jobs one worker runs (one, or a batch), and notices their cancellation."""

    def __init__(self, records: JobRecords, job_ids: list[str], interval: float) -> None:
        self.records = records
        self.job_ids = list(job_ids)
        self.interval = interval
        self._cancelled: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="interpboard-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def cancelled(self, job_id: str) -> bool:
        return job_id in self._cancelled

    def check(self) -> None:
        """A checkpoint: stop the work once every job it serves was cancelled."""
        if all(job_id in self._cancelled for job_id in self.job_ids):
            raise JobCancelled

    def _run(self) -> None:
        last_beat = time.monotonic()
        while not self._stop.wait(min(CANCEL_POLL_SECONDS, self.interval)):
            beat = time.monotonic() - last_beat >= self.interval
            for job_id in self.job_ids:
                if job_id not in self._cancelled:
                    self._look(job_id, beat)
            if beat:
                last_beat = time.monotonic()

    def _look(self, job_id: str, beat: bool) -> None:
        # Best effort: a broker that is down for a moment must not stop the work; the beats resume after.
        try:
            if beat:
                status = self.records.beat(job_id)
                stop = status is None or status.cancel_requested
            else:
                stop = self.records.is_cancel_requested(job_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("heartbeat of job %s failed: %s: %s", job_id, type(exc).__name__, exc)
            return
        if stop:
            self._cancelled.add(job_id)


class Reaper:
    """Ends or requeues lost jobs, and terminates cancelled ones that do not stop by themselves."""

    def __init__(
        self,
        records: JobRecords,
        settings: Settings,
        send: Callable[[list[JobStatus]], None],
        terminate: Callable[[str], None] | None = None,
    ) -> None:
        self.records = records
        self.settings = settings
        self.send = send  # hands a requeued job to whatever runs jobs
        self.terminate = terminate  # kills the work of a message id (Celery revoke), where there is a way

    def look(self, status: JobStatus | None) -> JobStatus | None:
        """A job's status as read, after dealing with it when it was lost or will not stop."""
        if status is None or status.state != RUNNING:
            return status
        now = time.time()
        if now - (status.heartbeat_at or status.started_at or status.created_at) > self.settings.lost_after:
            self._reap(status.job_id)
            return self.records.get(status.job_id)
        if self._overdue_cancel(status, now):
            return self.records.get(status.job_id)
        return status

    def sweep(self) -> None:
        """Every lost job, and every cancelled job past its grace (the running ones: few)."""
        for job_id in self.records.lost():
            self._reap(job_id)
        now = time.time()
        for job_id in self.records.running():
            status = self.records.get(job_id)
            if status is not None and status.state == RUNNING:
                self._overdue_cancel(status, now)

    def reconcile(self, in_broker: Callable[[], set[str]], older_than: float = 5.0) -> list[str]:
        """Send again the queued jobs no message in the broker carries (lost with a broker restart)."""
        waiting = [j for ids in self.records.queued_ids().values() for j in ids]
        if not waiting:
            return []
        carried = in_broker()
        cutoff = time.time() - older_than
        resent = []
        for job_id in waiting:
            status = self.records.get(job_id)
            if job_id in carried or status is None or status.finished or status.created_at > cutoff:
                continue
            log.warning("job %s is queued but no message carries it: sending it again", job_id)
            self.send([status])
            resent.append(job_id)
        return resent

    def _reap(self, job_id: str) -> None:
        requeued = self.records.reap(job_id, self.settings.max_retries)
        if requeued is not None:
            log.warning("job %s lost its worker: queued again (delivery %d)", job_id, requeued.deliveries + 1)
            self.send([requeued])

    def _overdue_cancel(self, status: JobStatus, now: float) -> bool:
        if not status.cancel_requested or self.terminate is None or status.message_id is None:
            return False
        if now - (status.cancel_requested_at or now) <= self.settings.cancel_grace:
            return False
        log.warning(
            "job %s did not stop within %s s of its cancel: terminating it",
            status.job_id,
            self.settings.cancel_grace,
        )
        self.terminate(status.message_id)
        self.records.finish(status.job_id, CANCELLED)
        return True
