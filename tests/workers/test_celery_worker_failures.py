"""What goes wrong around a Celery worker: killed mid-job (SIGKILL, whole process group), lost too often, too slow."""

from __future__ import annotations

import signal

import pytest

from tests.workers.support import SLOW, TIMEOUT, celery_worker, stop_group, wait_for, worker_env
from workers.compute import JobContext, run_jobs
from workers.executor import CeleryExecutor
from workers.jobs import JobStatus, MemoryJobRecords
from workers.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.processes]

# Unacked jobs return after the visibility timeout, which must stay above the job time limit.
LOSS_LIMITS = {"INTERPBOARD_JOB_TIME_LIMIT": "40", "INTERPBOARD_VISIBILITY_TIMEOUT": "45"}


def test_job_of_a_killed_worker_is_redelivered_and_completes(
    celery_env, tiny_registry, worker_log, monkeypatch
):
    for name, value in LOSS_LIMITS.items():
        monkeypatch.setenv(name, value)
    env = worker_env({**celery_env, **LOSS_LIMITS}, tiny_registry)
    executor = CeleryExecutor(Settings())
    try:
        with celery_worker(env, worker_log) as first:
            sub = executor.submit(SLOW)
            lost = wait_for(executor, sub.job_id, lambda s: s.state == "running")
            stop_group(first, signal.SIGKILL)
        assert executor.status(sub.job_id).state == "running"  # nobody is left to say otherwise

        with celery_worker(env, worker_log):
            status = executor.wait(sub.job_id, timeout=TIMEOUT)
        assert status.state == "done", status.error
        assert status.deliveries == 2 and status.worker != lost.worker
        assert executor.result(sub.key) is not None
    finally:
        executor.close()


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
    records = MemoryJobRecords()
    records.create(JobStatus(job_id="j", key="k", request=SLOW.to_dict()))
    for lost_worker in ("host:1", "host:2"):  # taken up twice, each time the worker died
        records.start("j", lost_worker)

    run_jobs(["j"], JobContext(records, store=None, settings=settings, worker="host:3"))
    status = records.get("j")
    assert status.state == "error" and status.error_kind == "lost" and "lost 2 times" in status.error
