"""Executors for the job-layer tests: the embedded one, and Celery with a real worker subprocess."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import diskcache
import pytest
import redis

from tests.conftest import leased_redis_db
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
    env = {
        "INTERPBOARD_BROKER": redis_url,
        "INTERPBOARD_CACHE": str(tmp_path / "cache"),
        "INTERPBOARD_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
        **TEST_LIMITS,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def worker_log(tmp_path) -> Path:
    return tmp_path / "worker.log"


@pytest.fixture(scope="module")
def celery_worker_module(tmp_path_factory, tiny_registry, redis_server) -> Iterator[dict[str, str]]:
    """One real worker for a test module (starting one and loading its models costs seconds): its settings.

    Its own Redis DB and queue, results in a diskcache directory both processes share. Tests that
    kill or reconfigure their worker start their own (`celery_worker` with `celery_env`).
    """
    directory = tmp_path_factory.mktemp("celery-module")
    with leased_redis_db(redis_server) as url:
        env = {
            "INTERPBOARD_BROKER": url,
            "INTERPBOARD_CACHE": str(directory / "cache"),
            "INTERPBOARD_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
            **TEST_LIMITS,
        }
        with celery_worker(worker_env(env, tiny_registry), directory / "worker.log"):
            yield env


@pytest.fixture
def shared_worker_env(celery_worker_module, monkeypatch) -> Iterator[dict[str, str]]:
    """The module's worker, as if it were the test's own: no results and no job records of earlier tests.

    Every test leaves the worker idle (its jobs end before it does), so clearing between tests is safe.
    The broker's own keys (queue, bindings) stay: only the job records (under interpboard:) go.
    """
    env = celery_worker_module
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    records = redis.Redis.from_url(env["INTERPBOARD_BROKER"])
    for name in records.scan_iter(match="interpboard:*"):
        records.delete(name)
    records.close()
    with diskcache.Cache(env["INTERPBOARD_CACHE"]) as results:  # clear() reads no values: nothing unpickled
        results.clear()
    yield env


@pytest.fixture(params=["embedded", pytest.param("celery", marks=pytest.mark.processes)])
def executor(request) -> Iterator[Executor]:
    """Each behavioural test runs against both executors."""
    if request.param == "embedded":
        request.getfixturevalue("embedded_env")
        ex: Executor = EmbeddedExecutor(Settings())
    else:
        request.getfixturevalue("shared_worker_env")
        ex = CeleryExecutor(Settings())
    yield ex
    ex.close()
