"""The Celery job message's body (a "task" in Celery's words). Everything heavy (torch, models, connections) is made lazily in the worker child.

Each worker's main process also runs the reaper (workers/liveness.py): once at start-up, when it
also reconciles the job records against the broker's messages, then every `reap_interval` seconds.
"""

from __future__ import annotations

import logging
import threading
from functools import cache
from typing import Any

from billiard.exceptions import TimeLimitExceeded
from celery import Task, shared_task
from celery.signals import worker_process_init, worker_ready

from workers.compute import JobContext, run_jobs, worker_name
from workers.executor import open_result_store, redis_records
from workers.jobs import ERROR, JobRecords
from workers.liveness import Reaper
from workers.messages import RUN_JOBS_MESSAGE, jobs_in_broker, send_jobs, terminate_message
from workers.redis_records import RedisJobRecords
from workers.settings import Settings, job_settings

log = logging.getLogger(__name__)


def _settings() -> Settings:
    return job_settings()


@cache
def _records() -> JobRecords:
    return redis_records(_settings())


@cache
def _context() -> JobContext:
    """Per worker process, created at its first job (after the fork), kept for the next ones."""
    return JobContext(_records(), open_result_store(_settings()), _settings(), worker_name())


class JobMessage(Task):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # The job body records its own end, except when it never got the chance: the hard time
        # limit killed the child (Celery calls this in the worker's main process then).
        if isinstance(exc, TimeLimitExceeded):
            message, kind = (
                f"the job ran longer than its time limit of {_settings().job_time_limit} s and was stopped",
                "timeout",
            )
        else:
            message, kind = f"internal error: {type(exc).__name__}: {exc}", "internal"
        for job_id in _job_ids(args[0] if args else None):
            _records().finish(job_id, ERROR, message, kind)


def _job_ids(value: Any) -> list[str]:
    if isinstance(value, list) and all(isinstance(j, str) for j in value):
        return value
    log.error("ignoring a malformed %s message: %r", RUN_JOBS_MESSAGE, value)
    return []


@shared_task(name=RUN_JOBS_MESSAGE, base=JobMessage)
def run_jobs_message(job_ids: list[str]) -> None:
    run_jobs(_job_ids(job_ids), _context())


@worker_process_init.connect
def calibrate(**_: Any) -> None:
    """In each pool process, after the fork: the cost model's calibration (~1 s), in the background."""
    from workers.compute_parts import calibrate_in_background

    calibrate_in_background()


@worker_ready.connect
def start_reaper(sender: Any = None, **_: Any) -> None:
    """In the worker's main process: a daemon thread that sweeps for lost jobs (no torch, no models)."""
    app = sender.app
    settings = _settings()
    records: RedisJobRecords = redis_records(settings)
    reaper = Reaper(
        records,
        settings,
        lambda statuses: send_jobs(app, records, statuses),
        lambda message_id: terminate_message(app, message_id),
    )

    def sweep_forever() -> None:
        stop = threading.Event()
        while True:
            try:
                reaper.sweep()
                reaper.reconcile(lambda: jobs_in_broker(records.client, list(records.queued_ids())))
            except Exception as exc:  # noqa: BLE001 - a broker restart: try again next round
                log.warning("reaper: %s: %s", type(exc).__name__, exc)
            stop.wait(settings.reap_interval)

    threading.Thread(target=sweep_forever, name="interpboard-reaper", daemon=True).start()
