"""The cost model's calibration (~1 s) runs as a worker starts (Celery) or beside its first job (embedded)."""

from __future__ import annotations

import time

import pytest

from tests.workers.support import QUICK, TIMEOUT, celery_worker, worker_env
from workers import compute_parts
from workers.executor import EmbeddedExecutor
from workers.settings import Settings

pytestmark = pytest.mark.slow


def test_the_embedded_executor_calibrates_at_its_first_job_only(embedded_env, monkeypatch):
    """Beside the first job's model loading; a process that computes nothing (the CLI reading a stored
    analysis, or refusing a bad input) never probes."""
    started = []
    monkeypatch.setattr(compute_parts, "calibrate_in_background", lambda: started.append(True))
    executor = EmbeddedExecutor(Settings())
    try:
        assert started == []
        for request in (QUICK, QUICK.with_(text="another quick one")):
            sub = executor.submit(request)
            assert executor.wait(sub.job_id, timeout=TIMEOUT).state == "done"
    finally:
        executor.close()
    assert started == [True]


@pytest.mark.processes
def test_a_celery_worker_process_calibrates_before_any_job(celery_env, tiny_registry, worker_log):
    with celery_worker(worker_env(celery_env, tiny_registry), worker_log):
        deadline = time.monotonic() + 60
        while "cost model calibrated on cpu" not in worker_log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    log = worker_log.read_text()
    assert "cost model calibrated on cpu" in log, log[-3000:]
    assert "sensitivity.start" in log  # the probe's widths, not the matrix-product rate alone
