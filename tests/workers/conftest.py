"""Executors for the job-layer tests: the embedded one, and Celery with a real worker subprocess."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workers.support import TEST_LIMITS, celery_worker, worker_env
from workers.executor import CeleryExecutor, EmbeddedExecutor, Executor
from workers.settings import Settings


@pytest.fixture
def embedded_env(tmp_path, tiny_registry, monkeypatch) -> dict[str, str]:
    env = {"INTERPBOARD_CACHE": str(tmp_path / "cache"), **TEST_LIMITS}
    monkeypatch.delenv("INTERPBOARD_BROKER", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def celery_env(tmp_path, tiny_registry, redis_url, monkeypatch) -> dict[str, str]:
    """Broker and job records in the test's Redis DB; results in a diskcache both processes share.

    A queue of its own, so a worker of another test session that landed on the same DB number
    never takes this test's jobs.
    """
    env = {"INTERPBOARD_BROKER": redis_url, "INTERPBOARD_CACHE": str(tmp_path / "cache"),
           "INTERPBOARD_QUEUE": f"test-{uuid.uuid4().hex[:12]}", **TEST_LIMITS}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def worker_log(tmp_path) -> Path:
    return tmp_path / "worker.log"


@pytest.fixture
def worker(celery_env, tiny_registry, worker_log) -> Iterator[subprocess.Popen]:
    with celery_worker(worker_env(celery_env, tiny_registry), worker_log) as proc:
        yield proc


@pytest.fixture(params=["embedded", "celery"])
def executor(request) -> Iterator[Executor]:
    """Each behavioural test runs against both executors."""
    if request.param == "embedded":
        request.getfixturevalue("embedded_env")
        ex: Executor = EmbeddedExecutor(Settings())
    else:
        request.getfixturevalue("worker")
        ex = CeleryExecutor(Settings())
    yield ex
    ex.close()
