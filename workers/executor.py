"""The one submit/status interface, with two executors behind it.

`CeleryExecutor` when INTERPBOARD_BROKER is set (jobs run in `interpboard worker` processes,
records in the broker's Redis); `EmbeddedExecutor` otherwise (a thread pool in this process,
records in memory), so the dashboard runs with no Redis at all. Both dedup in-flight work: a
request whose key is already being computed follows that job instead of starting another.
Both are fair: a client may have `max_queued_per_client` unfinished jobs (`max_queued` waiting in
all; over either, QueueFull), and a client's later jobs wait behind other clients' (priority = how
many unfinished jobs it already has), so one client's flood does not starve another. Reads of a job's status go
through the reaper (workers/liveness.py): a lost job is requeued or ended as soon as anyone looks.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from pydantic import BaseModel, ConfigDict

from cache import ResultStore, open_store
from cache.keys import content_key
from interp.part_names import Part
from interp.registry import load_registry
from interp.schema import Analysis, AnalysisRequest
from workers import part_store
from workers.compute import JobContext, run_jobs, worker_name
from workers.job_status import Focus
from workers.jobs import ERROR, JobRecords, JobStatus
from workers.liveness import Reaper
from workers.memory_records import MemoryJobRecords
from workers.messages import LOWEST_PRIORITY, RUN_JOBS_MESSAGE, send_jobs, terminate_message  # noqa: F401
from workers.redis_records import RedisJobRecords
from workers.settings import Settings, job_settings, safe_url

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
LOCAL = "local"  # the client of jobs the operator's own processes submit (CLI, precompute)


class QueueFull(Exception):
    """Too many jobs waiting (the client's own, or everyone's): try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def request_key(request: AnalysisRequest) -> str:
    """The cache key of a request; InputError for an unknown model or a task it does not serve."""
    spec = load_registry().check(request)
    return content_key(request.key_payload(spec.fingerprint()))


def open_result_store(settings: Settings) -> ResultStore:
    return open_store(
        settings.cache, ttl_seconds=settings.cache_ttl, size_limit_bytes=settings.cache_size_limit
    )


def redis_records(settings: Settings) -> RedisJobRecords:
    """Job records in the broker's Redis."""
    return RedisJobRecords(
        redis.Redis.from_url(settings.broker),
        settings.result_expires,
        settings.inflight_ttl,
        settings.lost_after,
    )


class Submission(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    job_id: str | None  # None when the result was already cached
    cached: bool
    status: JobStatus | None


class Executor(ABC):
    def __init__(self, settings: Settings, records: JobRecords) -> None:
        self.settings = settings
        self.records = records
        self.store = open_result_store(settings)
        self.reaper = Reaper(records, settings, self._dispatch, self._terminate)

    @abstractmethod
    def _dispatch(self, statuses: list[JobStatus]) -> None:
        """Hand queued jobs (one, or a batch for one model and task) to whatever runs them."""

    _terminate = None  # (message id) -> kill the work it carries, where the executor can

    def close(self) -> None:  # noqa: B027 - an optional hook: an executor may have nothing to stop
        """Stop accepting work."""

    def submit(
        self, request: AnalysisRequest, client: str | None = None, focus: Focus | None = None
    ) -> Submission:
        """Returns at once. Raises InputError for a request that can never succeed, QueueFull over a cap.

        `client` names who asks (a user, an address) for the caps; None is the operator's own process
        (CLI, precompute): never capped, queued as "local". `focus`: what the asker looks at first (the
        selected layer and saliency method) and which parts to compute at all; not part of the key.
        """
        return self.submit_many([request], client=client, focus=focus)[0]

    def submit_many(
        self,
        requests: list[AnalysisRequest],
        batch_size: int = 1,
        client: str | None = None,
        focus: Focus | None = None,
    ) -> list[Submission]:
        """Submit several requests; new jobs for the same model and task go out in batches of `batch_size`."""
        keys = [request_key(r) for r in requests]  # validate all before queueing any
        opened = [
            self._open(request, key, client, focus=focus) for request, key in zip(requests, keys, strict=True)
        ]
        batches = _batches([sub.status for sub, new in opened if new], max(1, batch_size))
        for number, batch in enumerate(batches):
            try:
                self._send(batch)
            except Exception as exc:
                # Jobs nobody will run must not hold their keys: end them all with the reason.
                for status in itertools.chain.from_iterable(batches[number:]):
                    self.records.finish(
                        status.job_id,
                        ERROR,
                        f"could not queue the job: {type(exc).__name__}: {exc}",
                        "internal",
                    )
                raise
        return [sub for sub, _ in opened]

    def _open(
        self,
        request: AnalysisRequest,
        key: str,
        client: str | None,
        part: str | None = None,
        focus: Focus | None = None,
    ) -> tuple[Submission, bool]:
        """A cached result, the job already computing `key`, or a new queued job (True) not yet sent.

        A part job's `key` is its entry `<analysis key>.<part>` (the claim that dedups it)."""
        for _ in range(3):  # a stale in-flight marker is dropped and the claim tried again
            if self.store.get_meta(key) is not None:
                return Submission(key=key, job_id=None, cached=True, status=None), False
            status = JobStatus(
                job_id=uuid.uuid4().hex,
                key=key,
                request=request.to_dict(),
                queue=self.settings.queue,
                client=client or LOCAL,
                priority=self._admit(client, key),
                part=part,
                focus=focus,
            )
            # The record exists before the claim, so whoever loses the race always finds a record to follow.
            self.records.create(status)
            holder = self.records.claim(key, status.job_id)
            if holder is None:
                return Submission(key=key, job_id=status.job_id, cached=False, status=status), True
            self.records.discard(status.job_id)
            current = self._current(holder)
            if current is not None and not current.finished:
                return Submission(key=key, job_id=holder, cached=False, status=current), False
            self.records.release(key, holder)  # ended (or expired) a moment ago: look again
        raise RuntimeError(f"could not claim key {key} for a new job")

    def _admit(self, client: str | None, key: str) -> int:
        """The new job's priority (how many unfinished jobs `client` has); QueueFull over a cap.

        Checked before the job exists, so two racing submits may both pass: the caps are limits on
        floods, not exact counts. A cached request never reaches here.
        """
        if self.records.holder(key) is not None:  # it will follow that job, not queue one
            return 0
        mine = self.records.queued_by(client or LOCAL)
        if client is None:
            return min(mine, LOWEST_PRIORITY)
        everyone = self.records.queued(self.settings.queue)
        if mine >= self.settings.max_queued_per_client:
            raise QueueFull(
                f"you have {mine} jobs waiting or running, the most one client may have: wait for some "
                "to finish (or cancel them) and try again"
            )
        if everyone >= self.settings.max_queued:
            raise QueueFull(f"the server has {everyone} jobs waiting, all it takes: try again later")
        return min(mine, LOWEST_PRIORITY)

    def _send(self, statuses: list[JobStatus]) -> None:
        for status in statuses:
            self.records.enqueue(status)
        self._dispatch(statuses)

    def _current(self, job_id: str) -> JobStatus | None:
        """A job's status, after the reaper dealt with it if it was lost."""
        return self.reaper.look(self.records.get(job_id))

    def status(self, job_id: str) -> JobStatus | None:
        return self._current(job_id)

    def job_for(self, key: str) -> JobStatus | None:
        """The queued or running job computing `key`, if any."""
        holder = self.records.holder(key)
        status = None if holder is None else self._current(holder)
        return None if status is None or status.finished else status

    # --- parts (workers/part_store.py) -------------------------------------------------------------

    def request_parts(
        self, request: AnalysisRequest, parts: list[str], client: str | None = None
    ) -> list[Submission]:
        """Ask for parts of the request's analysis: a submission per part not stored yet (a cached one
        when it is), each following the job already computing it if there is one. ValueError for a
        name that is no part (or not one of this analysis); InputError/QueueFull as `submit`.
        """
        key = request_key(request)
        names = list(dict.fromkeys(str(Part.parse(name)) for name in parts))
        if "core" in names:
            raise ValueError("the core comes with the analysis: submit the request")
        meta = self.store.get_meta(key)
        listed = (meta or {}).get("parts") or {}
        unknown = [n for n in names if meta is not None and n not in listed]
        if unknown:
            raise ValueError(f"no such part of this analysis: {', '.join(unknown)}")
        stored = set(self.store.stored_parts(key, names))
        running = self.job_for(key)  # the analysis job: its plan may hold the part already
        planned = self._planned(key) if running is not None else {}
        out = []
        for name in names:
            if listed.get(name, {}).get("state") == part_store.DONE or name in stored:
                out.append(Submission(key=part_store.entry(key, name), job_id=None, cached=True, status=None))
            elif planned.get(name) in (part_store.QUEUED, part_store.RUNNING):
                out.append(Submission(key=key, job_id=running.job_id, cached=False, status=running))  # type: ignore[union-attr]
            else:
                sub, new = self._open(request, part_store.entry(key, name), client, part=name)
                if new:
                    self._send([sub.status])  # type: ignore[list-item]
                out.append(sub)
        return out

    def _planned(self, key: str) -> dict[str, str]:
        """The part states in a running analysis job's latest partial."""
        record = self.store.get_partial(key) if self.store.partial_stages(key) else None
        parts = (record.meta.get("parts") if record else None) or {}
        return {name: part.get("state") for name, part in parts.items()}

    def part_states(self, key: str, analysis: Analysis | None = None) -> dict[str, dict[str, Any]]:
        """Each part of the analysis with its state: stored, or queued/running in a job, or offered."""
        analysis = analysis if analysis is not None else self.result(key)
        if analysis is None:
            return {}
        live = {}
        for name in part_store.pending(analysis):
            job = self.job_for(part_store.entry(key, name))
            if job is not None:
                live[name] = str(job.state)
        return part_store.states(analysis, live)

    def part_jobs(self, key: str, names: list[str]) -> dict[str, JobStatus]:
        """The jobs computing these parts of `key` now."""
        jobs = {name: self.job_for(part_store.entry(key, name)) for name in names}
        return {name: job for name, job in jobs.items() if job is not None}

    def cancel(self, job_id: str) -> bool:
        """True when the job was queued or running (it ends as cancelled); False when it had already ended."""
        cancelled = self.records.cancel(job_id)
        if cancelled is not None:
            self.reaper.look(cancelled)
        return cancelled is not None

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        poll: float = 0.1,
        on_poll: Callable[[JobStatus], None] | None = None,
    ) -> JobStatus:
        """Block until the job ends. TimeoutError after `timeout` seconds; LookupError for an unknown job."""
        show = (
            None
            if on_poll is None
            else lambda statuses: on_poll(statuses[job_id]) if statuses[job_id] else None
        )
        status = self.wait_all([job_id], timeout, poll, show)[job_id]
        if status is None:
            raise LookupError(f"unknown job {job_id}")
        return status

    def wait_all(
        self,
        job_ids: Iterable[str],
        timeout: float | None = None,
        poll: float = 0.1,
        on_poll: Callable[[dict[str, JobStatus | None]], None] | None = None,
    ) -> dict[str, JobStatus | None]:
        """The one polling loop: every job's last status once all ended (None: its record is gone).

        `on_poll` sees every job's status after each look; TimeoutError after `timeout` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        statuses: dict[str, JobStatus | None] = dict.fromkeys(job_ids)
        pending = set(statuses)
        while True:
            for job_id in list(pending):
                statuses[job_id] = status = self._current(job_id)
                if status is None or status.finished:
                    pending.discard(job_id)
            if on_poll is not None:
                on_poll(statuses)
            if not pending:
                return statuses
            if deadline is not None and time.monotonic() >= deadline:
                waiting = statuses[min(pending)]
                raise TimeoutError(
                    f"job {waiting.job_id} still {waiting.state} ({waiting.stage_text}) after {timeout} s"
                )
            time.sleep(poll)

    def result(self, key: str) -> Analysis | None:
        """The stored analysis, with the parts stored beside it merged in."""
        return part_store.read(self.store, key)

    def partial(self, key: str) -> Analysis | None:
        record = self.store.get_partial(key)
        return None if record is None else Analysis.from_record(record.meta, record.arrays)


def _batches(statuses: list[JobStatus], size: int) -> list[list[JobStatus]]:
    """Groups of at most `size` jobs of one model and task: what one analyze_many call can take."""
    model_task = lambda s: (s.request["model"], s.request["task"])  # noqa: E731
    batches: list[list[JobStatus]] = []
    for _, same in itertools.groupby(sorted(statuses, key=model_task), key=model_task):
        group = list(same)
        batches += [group[start : start + size] for start in range(0, len(group), size)]
    return batches


class EmbeddedExecutor(Executor):
    """Jobs run in a thread pool of this process, the most urgent waiting job first."""

    def __init__(self, settings: Settings) -> None:
        records = MemoryJobRecords(settings.result_expires, settings.inflight_ttl, settings.lost_after)
        super().__init__(settings, records)
        self._pool = ThreadPoolExecutor(settings.embedded_workers, thread_name_prefix="interpboard-job")
        self._context = JobContext(self.records, self.store, settings, worker_name())
        self._waiting: list[tuple[int, int, list[str]]] = []  # (priority, order, job ids): a heap
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._calibrating = False

    def _dispatch(self, statuses: list[JobStatus]) -> None:
        # Each dispatch adds one turn in the pool; a turn runs whichever waiting jobs come first then.
        with self._lock:
            if not self._calibrating:  # the cost model's probe, beside the first job's model loading
                from workers.compute_parts import calibrate_in_background  # torch: only where jobs run

                calibrate_in_background()
                self._calibrating = True
            heapq.heappush(
                self._waiting, (statuses[0].priority, next(self._order), [s.job_id for s in statuses])
            )
        self._pool.submit(self._run_next)

    def _run_next(self) -> None:
        with self._lock:
            _, _, job_ids = heapq.heappop(self._waiting)
        run_jobs(job_ids, self._context)

    def close(self) -> None:
        # Queued jobs are cancelled (so their records end); a running one finishes.
        self._pool.shutdown(wait=False, cancel_futures=True)


class CeleryExecutor(Executor):
    """Jobs go through the Redis broker to `interpboard worker` processes."""

    def __init__(self, settings: Settings) -> None:
        from workers.app import make_app

        self.app = make_app(settings)
        super().__init__(settings, redis_records(settings))
        log.info("jobs go to Celery via %s, queue %s", safe_url(settings.broker), settings.queue)

    def _dispatch(self, statuses: list[JobStatus]) -> None:
        send_jobs(self.app, self.records, statuses)

    def _terminate(self, message_id: str) -> None:
        terminate_message(self.app, message_id)

    def close(self) -> None:
        self.app.close()


_executor: Executor | None = None
_executor_lock = threading.Lock()


def get_executor(reset: bool = False) -> Executor:
    """The process-wide executor chosen by the settings; `reset=True` builds a new one (tests)."""
    global _executor
    with _executor_lock:
        if reset and _executor is not None:
            _executor.close()
            _executor = None
        if _executor is None:
            settings = job_settings()
            _executor = CeleryExecutor(settings) if settings.broker else EmbeddedExecutor(settings)
        return _executor
