"""The one submit/status interface, with two executors behind it.

`CeleryExecutor` when INTERPBOARD_BROKER is set (jobs run in `interpboard worker` processes,
records in the broker's Redis); `EmbeddedExecutor` otherwise (a thread pool in this process,
records in memory), so the dashboard runs with no Redis at all. Both dedup in-flight work: a
request whose key is already being computed follows that job instead of starting another.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import redis
from pydantic import BaseModel, ConfigDict

from cache import ResultStore, open_store
from cache.keys import content_key
from interp.registry import load_registry
from interp.schema import Analysis, AnalysisRequest
from workers.compute import JobContext, run_jobs, worker_name
from workers.jobs import JobRecords, JobStatus, MemoryJobRecords, RedisJobRecords
from workers.settings import Settings, job_settings, safe_url

log = logging.getLogger(__name__)

# The Celery message that runs a list of job ids (one job, or a precompute batch): see workers/celery_jobs.py.
# ("task" is kept for NLP tasks; the name on the wire stays, so queued messages survive an upgrade.)
RUN_JOBS_MESSAGE = "interpboard.run_jobs"


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
        redis.Redis.from_url(settings.broker), settings.result_expires, settings.inflight_ttl
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

    @abstractmethod
    def _dispatch(self, job_ids: list[str]) -> None:
        """Hand queued jobs (one, or a batch for one model and task) to whatever runs them."""

    def close(self) -> None:  # noqa: B027 - an optional hook: an executor may have nothing to stop
        """Stop accepting work."""

    def submit(self, request: AnalysisRequest) -> Submission:
        """Returns at once. Raises InputError for a request that can never succeed."""
        return self.submit_many([request])[0]

    def submit_many(self, requests: list[AnalysisRequest], batch_size: int = 1) -> list[Submission]:
        """Submit several requests; new jobs for the same model and task go out in batches of `batch_size`."""
        keys = [request_key(r) for r in requests]  # validate all before queueing any
        opened = [self._open(request, key) for request, key in zip(requests, keys, strict=True)]
        batches = _batches([sub.status for sub, new in opened if new], max(1, batch_size))
        for number, batch in enumerate(batches):
            try:
                self._send(batch)
            except Exception as exc:
                # Jobs nobody will run must not hold their keys: end them all with the reason.
                for status in itertools.chain.from_iterable(batches[number:]):
                    self.records.finish(
                        status.job_id,
                        "error",
                        f"could not queue the job: {type(exc).__name__}: {exc}",
                        "internal",
                    )
                raise
        return [sub for sub, _ in opened]

    def _open(self, request: AnalysisRequest, key: str) -> tuple[Submission, bool]:
        """A cached result, the job already computing `key`, or a new queued job (True) not yet sent."""
        for _ in range(3):  # a stale in-flight marker is dropped and the claim tried again
            if self.store.get_meta(key) is not None:
                return Submission(key=key, job_id=None, cached=True, status=None), False
            status = JobStatus(
                job_id=uuid.uuid4().hex, key=key, request=request.to_dict(), queue=self.settings.queue
            )
            # The record exists before the claim, so whoever loses the race always finds a record to follow.
            self.records.create(status)
            holder = self.records.claim(key, status.job_id)
            if holder is None:
                return Submission(key=key, job_id=status.job_id, cached=False, status=status), True
            self.records.discard(status.job_id)
            current = self.records.get(holder)
            if current is not None and not current.finished:
                return Submission(key=key, job_id=holder, cached=False, status=current), False
            self.records.release(key, holder)  # ended (or expired) a moment ago: look again
        raise RuntimeError(f"could not claim key {key} for a new job")

    def _send(self, statuses: list[JobStatus]) -> None:
        for status in statuses:
            self.records.enqueue(status)
        self._dispatch([s.job_id for s in statuses])

    def status(self, job_id: str) -> JobStatus | None:
        return self.records.get(job_id)

    def job_for(self, key: str) -> JobStatus | None:
        """The queued or running job computing `key`, if any."""
        holder = self.records.holder(key)
        status = None if holder is None else self.records.get(holder)
        return None if status is None or status.finished else status

    def cancel(self, job_id: str) -> bool:
        """True when the job was queued or running (it ends as cancelled); False when it had already ended."""
        return self.records.cancel(job_id) is not None

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
                statuses[job_id] = status = self.records.get(job_id)
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
        record = self.store.get(key)
        return None if record is None else Analysis.from_record(record.meta, record.arrays)

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
    """Jobs run in a thread pool of this process."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, MemoryJobRecords(settings.result_expires, settings.inflight_ttl))
        self._pool = ThreadPoolExecutor(settings.embedded_workers, thread_name_prefix="interpboard-job")
        self._context = JobContext(self.records, self.store, settings, worker_name())

    def _dispatch(self, job_ids: list[str]) -> None:
        self._pool.submit(run_jobs, job_ids, self._context)

    def close(self) -> None:
        # Queued jobs are cancelled (so their records end); a running one finishes.
        self._pool.shutdown(wait=False, cancel_futures=True)


class CeleryExecutor(Executor):
    """Jobs go through the Redis broker to `interpboard worker` processes."""

    def __init__(self, settings: Settings) -> None:
        from workers.app import make_app

        super().__init__(settings, redis_records(settings))
        self.app = make_app(settings)
        log.info("jobs go to Celery via %s, queue %s", safe_url(settings.broker), settings.queue)

    def _dispatch(self, job_ids: list[str]) -> None:
        # A single job's task id is its job id, so Celery's own tools (flower, inspect) show the same id.
        task_id = job_ids[0] if len(job_ids) == 1 else uuid.uuid4().hex
        self.app.send_task(RUN_JOBS_MESSAGE, args=[job_ids], task_id=task_id, queue=self.settings.queue)

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
