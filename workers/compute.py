"""The body of a job: the same in a Celery worker process and in the embedded executor's threads.

Runs the engine, reports its stages to the job record, stores partial results as they appear and
the whole analysis at the end. Every failure ends up as a message in the job record, never as a
stored result and never as an exception out of here (a worker must survive any request). While
it runs, a heartbeat thread keeps the record alive and watches for a cancel, which stops the work at
the engine's next checkpoint (a layer, a chunk of IG steps); a job that does not end as done leaves
no partial result behind.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded

from cache import ResultStore
from interp.checkpoints import checking
from interp.schema import Analysis, AnalysisRequest, InputError, ModelUnavailable
from interp.stages import Progress, Stage
from workers.jobs import CANCELLED, DONE, ERROR, JobRecords, JobStatus
from workers.liveness import Heartbeat, JobCancelled
from workers.settings import Settings

log = logging.getLogger(__name__)

# Stages after which the engine hands over a partial analysis worth showing early.
PARTIAL_STAGES = (Stage.FORWARD, Stage.SALIENCY)


@dataclass
class JobContext:
    records: JobRecords
    store: ResultStore
    settings: Settings
    worker: str  # hostname:pid
    part_budget_s: float | None = None  # None: INTERPBOARD_PART_BUDGET_S


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_jobs(job_ids: list[str], ctx: JobContext) -> None:
    """Run one job, or a batch of jobs for the same model and task (precompute)."""
    started = [status for status in (_start(job_id, ctx) for job_id in job_ids) if status is not None]
    if not started:
        return
    with (
        Heartbeat(ctx.records, [s.job_id for s in started], ctx.settings.heartbeat_interval) as beat,
        checking(beat.check),
    ):
        if len(started) == 1:
            _run_one(started[0], ctx, beat)
        else:
            _run_batch(started, ctx, beat)


def _start(job_id: str, ctx: JobContext) -> JobStatus | None:
    status = ctx.records.start(job_id, ctx.worker)
    if status is None:  # cancelled while queued, or already finished
        return None
    if status.deliveries > ctx.settings.max_retries + 1:
        ctx.records.finish(
            job_id,
            ERROR,
            f"gave up: the worker running this job was lost {status.deliveries - 1} times",
            "lost",
        )
        return None
    return status


def _run_one(status: JobStatus, ctx: JobContext, beat: Heartbeat) -> None:
    if status.part is not None:
        _run_part(status, ctx, beat)
        return
    if ctx.store.get_meta(status.key) is not None:  # a lost delivery stored it before its worker died
        ctx.records.finish(status.job_id, DONE)
        return
    clock = time.monotonic()
    stored: set[str] = set()  # arrays earlier stages stored: the engine never changes one it handed out

    def on_progress(progress: Progress, fraction: float, partial: Analysis | None) -> None:
        if beat.cancelled(status.job_id):
            raise JobCancelled
        # The partial first: whoever sees the stage can read what it produced.
        if partial is not None and progress.stage in PARTIAL_STAGES:
            meta, arrays = partial.to_record()
            new = {name: values for name, values in arrays.items() if name not in stored}
            ctx.store.put_partial(status.key, {**meta, **_job_meta(status, ctx)}, new)
            stored.update(new)
        if progress.stage != Stage.DONE:  # the job's own "done" comes after storing the result
            _quietly(ctx.records.progress, status.job_id, progress, fraction)

    def report(progress: Progress, fraction: float) -> None:
        on_progress(progress, fraction, None)

    def store_partial(analysis: Analysis, parts: set[str]) -> None:
        meta, arrays = analysis.to_record()
        # A part's own arrays (the sensitivity stack grows a layer at a time), or what is new.
        again = {"attention_sensitivity"} if any(p.startswith("sensitivity.") for p in parts) else set()
        new = {name: values for name, values in arrays.items() if name not in stored or name in again}
        if beat.cancelled(status.job_id):
            raise JobCancelled
        ctx.store.put_partial(status.key, {**meta, **_job_meta(status, ctx)}, new)
        stored.update(new)

    try:
        from workers import compute_parts  # imports torch: only ever in the process that computes

        if compute_parts.computes_in_parts(status.request):
            budget = ctx.part_budget_s or compute_parts.part_budget()
            outcome: Analysis | Exception = compute_parts.analysis_in_parts(
                status, report, store_partial, budget
            )
        else:
            from interp.engine import analyze

            outcome = analyze(AnalysisRequest.from_dict(status.request), on_progress=on_progress)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a job status
        outcome = exc
    _conclude(status, outcome, time.monotonic() - clock, ctx)


def _run_part(status: JobStatus, ctx: JobContext, beat: Heartbeat) -> None:
    """A part job: one part added to its analysis (workers/compute_parts.py)."""

    def report(progress: Progress, fraction: float) -> None:
        # Before storing, the record itself: the heartbeat sees a cancel only at its next poll.
        storing = progress.stage == Stage.STORING
        if beat.cancelled(status.job_id) or (storing and ctx.records.is_cancel_requested(status.job_id)):
            raise JobCancelled
        _quietly(ctx.records.progress, status.job_id, progress, fraction)

    try:
        from workers import compute_parts

        budget = ctx.part_budget_s or compute_parts.part_budget()
        compute_parts.add_part(status, ctx.store, report, ctx.worker, budget)
        ctx.records.finish(status.job_id, DONE)
    except JobCancelled:
        ctx.records.finish(status.job_id, CANCELLED)
    except Exception as exc:  # noqa: BLE001
        ctx.records.finish(status.job_id, ERROR, *_describe_failure(exc, status, ctx))


def _run_batch(statuses: list[JobStatus], ctx: JobContext, beat: Heartbeat) -> None:
    clock = time.monotonic()

    def on_progress(progress: Progress, fraction: float, _partial: None) -> None:
        beat.check()
        if progress.stage == Stage.DONE:
            return
        for status in statuses:
            if not beat.cancelled(status.job_id):
                _quietly(ctx.records.progress, status.job_id, progress, fraction, batch=len(statuses))

    try:
        from interp.engine import analyze_many

        requests = [AnalysisRequest.from_dict(s.request) for s in statuses]
        outcomes: list[Analysis | Exception] = analyze_many(requests, on_progress=on_progress)
    except Exception as exc:  # noqa: BLE001
        outcomes = [exc] * len(statuses)
    seconds = (time.monotonic() - clock) / len(statuses)
    for status, outcome in zip(statuses, outcomes, strict=True):
        _conclude(status, outcome, seconds, ctx)


def _conclude(status: JobStatus, outcome: Analysis | Exception, seconds: float, ctx: JobContext) -> None:
    """Store a result, or record why there is none."""
    try:
        if isinstance(outcome, Exception):
            raise outcome
        if ctx.records.is_cancel_requested(status.job_id):
            raise JobCancelled
        ctx.records.progress(status.job_id, Progress(Stage.STORING), 0.99)
        meta, arrays = outcome.to_record()
        meta.update(_job_meta(status, ctx), created_at=time.time(), compute_seconds=round(seconds, 4))
        ctx.store.put(status.key, meta, arrays)
        ctx.records.finish(status.job_id, DONE)
    except JobCancelled:
        _drop_partial(status.key, ctx)
        ctx.records.finish(status.job_id, CANCELLED)
    except Exception as exc:  # noqa: BLE001
        _drop_partial(status.key, ctx)
        ctx.records.finish(status.job_id, ERROR, *_describe_failure(exc, status, ctx))


def _drop_partial(key: str, ctx: JobContext) -> None:
    """A job that ends without a result leaves none of its stages behind (they would outlive it for an hour)."""
    if ctx.store is not None and ctx.store.get_meta(key) is None:
        _quietly(ctx.store.delete, key)


def _quietly(action: Any, *args: Any, **kwargs: Any) -> None:
    """Record-keeping the work must not die of (a broker or cache restarting): logged, then left."""
    try:
        action(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001
        log.warning("%s failed: %s: %s", getattr(action, "__name__", action), type(exc).__name__, exc)


def _job_meta(status: JobStatus, ctx: JobContext) -> dict[str, Any]:
    return {"key": status.key, "worker": ctx.worker, "queue": status.queue, "job_id": status.job_id}


def _describe_failure(exc: Exception, status: JobStatus, ctx: JobContext) -> tuple[str, str]:
    """The user-facing message and its kind."""
    if isinstance(exc, InputError):
        return str(exc), "input"
    if isinstance(exc, ModelUnavailable):
        return str(exc), "unavailable"
    if isinstance(exc, SoftTimeLimitExceeded):
        return f"the job ran longer than its time limit of {ctx.settings.job_time_limit} s", "timeout"
    log.error("job %s (key %s) failed", status.job_id, status.key, exc_info=exc)
    return f"internal error: {type(exc).__name__}: {exc}", "internal"
