"""What goes wrong around a Celery worker: killed mid-job (SIGKILL, whole process group), lost too often, too slow."""

from __future__ import annotations

import signal
import time
import uuid

import pytest

from tests.deploy.stack import free_port, start_redis
from tests.workers.support import (
    QUICK,
    SLOW,
    TEST_LIMITS,
    TIMEOUT,
    celery_worker,
    stop_group,
    wait_for,
    worker_env,
)
from workers.compute import JobContext, run_jobs
from workers.executor import CeleryExecutor, request_key
from workers.jobs import JobStatus
from workers.memory_records import MemoryJobRecords
from workers.messages import jobs_in_broker, send_jobs
from workers.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.processes]

# The liveness defaults: a job whose worker died is requeued or ended within this, never "running" longer.
LOST_WITHIN = 60


def _default_settings(celery_env: dict[str, str], monkeypatch) -> dict[str, str]:
    """The suite's short job limits taken out: every setting at its default, as a deployment has them."""
    for name in TEST_LIMITS:
        monkeypatch.delenv(name, raising=False)
    return {k: v for k, v in celery_env.items() if k not in TEST_LIMITS}


def _never_running_silently(statuses: dict[str, JobStatus | None]) -> None:
    for status in statuses.values():
        if status is not None and status.state == "running":
            assert time.time() - status.heartbeat_at < LOST_WITHIN, f"running without a heartbeat: {status}"


def test_job_of_a_killed_worker_is_requeued_and_completes_with_default_settings(
    celery_env, tiny_registry, worker_log, monkeypatch
):
    env = worker_env(_default_settings(celery_env, monkeypatch), tiny_registry)
    executor = CeleryExecutor(Settings())
    try:
        with celery_worker(env, worker_log) as first:
            sub = executor.submit(SLOW)
            lost = wait_for(
                executor, sub.job_id, lambda s: s.finished or s.stage in ("forward", "sensitivity")
            )
            assert not lost.finished, "the slow job ended before its worker could be killed"
            stop_group(first, signal.SIGKILL)
            killed = time.monotonic()

        with celery_worker(env, worker_log):
            moved = wait_for(executor, sub.job_id, lambda s: s.state != "running" or s.worker != lost.worker)
            assert time.monotonic() - killed < LOST_WITHIN, moved
            status = executor.wait_all([sub.job_id], timeout=TIMEOUT, on_poll=_never_running_silently)
        status = status[sub.job_id]
        assert status.state == "done", status.error
        assert status.deliveries == 2 and status.worker != lost.worker
        assert executor.result(sub.key) is not None
    finally:
        executor.close()


def test_broker_restart_mid_job_leaves_no_job_running_silently(
    tmp_path, tiny_registry, worker_log, monkeypatch
):
    """kill -9 of the broker's redis-server (appendonly yes, as in compose), restarted on the same data."""
    port = free_port()
    broker = start_redis(tmp_path, port)
    env = {
        "INTERPBOARD_BROKER": f"redis://127.0.0.1:{port}/0",
        "INTERPBOARD_CACHE": str(tmp_path / "cache"),
        "INTERPBOARD_QUEUE": "cpu",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    executor = CeleryExecutor(Settings())
    try:
        with celery_worker(worker_env(env, tiny_registry), worker_log):
            sub = executor.submit(SLOW)
            running = wait_for(
                executor, sub.job_id, lambda s: s.finished or s.stage in ("forward", "sensitivity")
            )
            assert not running.finished, "the slow job ended before the broker could be killed"
            broker.kill()
            broker = start_redis(tmp_path, port)
            statuses = executor.wait_all([sub.job_id], timeout=TIMEOUT, on_poll=_never_running_silently)
        status = statuses[sub.job_id]
        assert status.state == "done" or (status.state == "error" and status.error), status
    finally:
        executor.close()
        broker.stop()


def test_job_over_its_time_limit_ends_with_a_timeout_error(
    celery_env, tiny_registry, worker_log, monkeypatch
):
    limits = {"INTERPBOARD_JOB_TIME_LIMIT": "1", "INTERPBOARD_VISIBILITY_TIMEOUT": "4"}
    for name, value in limits.items():
        monkeypatch.setenv(name, value)
    executor = CeleryExecutor(Settings())
    try:
        with celery_worker(worker_env({**celery_env, **limits}, tiny_registry), worker_log):
            sub = executor.submit(SLOW)
            status = executor.wait(sub.job_id, timeout=TIMEOUT)
        assert (
            status.state == "error" and status.error_kind == "timeout" and "time limit of 1 s" in status.error
        )
        assert executor.store.get_meta(sub.key) is None
    finally:
        executor.close()


def test_job_lost_more_than_max_retries_times_gives_up(tmp_path):
    settings = Settings(cache=str(tmp_path), max_retries=1)
    records = MemoryJobRecords(lost_after=0.01)
    records.create(JobStatus(job_id="j", key="k", request=SLOW.to_dict()))
    for lost_worker in ("host:1", "host:2"):  # taken up twice, each time the worker died
        assert records.start("j", lost_worker) is not None
        time.sleep(0.05)  # silent: lost

    run_jobs(["j"], JobContext(records, store=None, settings=settings, worker="host:3"))
    status = records.get("j")
    assert status.state == "error" and status.error_kind == "lost" and "lost 2 times" in status.error


def test_a_queued_job_no_message_carries_is_sent_again_by_a_starting_worker(
    celery_env, tiny_registry, worker_log
):
    """As after a broker restart that lost the message: the record says queued, the broker has nothing."""
    executor = CeleryExecutor(Settings())
    try:
        orphan = JobStatus(
            job_id=uuid.uuid4().hex,
            key=request_key(QUICK),
            request=QUICK.to_dict(),
            queue=executor.settings.queue,
            created_at=time.time() - 60,
        )
        executor.records.create(orphan)
        executor.records.claim(orphan.key, orphan.job_id)
        executor.records.enqueue(orphan)
        queues = [executor.settings.queue]
        assert jobs_in_broker(executor.records.client, queues) == set()
        send_jobs(executor.app, executor.records, [JobStatus(job_id="carried", key="k", queue=queues[0])])
        assert jobs_in_broker(executor.records.client, queues) == {"carried"}

        with celery_worker(worker_env(celery_env, tiny_registry), worker_log):
            status = executor.wait(orphan.job_id, timeout=TIMEOUT)
        assert status.state == "done", status.error
    finally:
        executor.close()
