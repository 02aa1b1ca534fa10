"""Shared fixtures: tiny real-architecture models on disk, and a real Redis."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Offline, quiet, deterministic: no test may reach the Hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch):
    """Settings are read once per process (interp.settings); a test that changes the environment
    through monkeypatch, or a session fixture before it, gets them read again."""
    from interp.settings import settings

    for name in ("setenv", "delenv"):
        change = getattr(pytest.MonkeyPatch, name)

        def and_reread(self, *args, _change=change, **kwargs):
            _change(self, *args, **kwargs)
            settings.cache_clear()

        monkeypatch.setattr(pytest.MonkeyPatch, name, and_reread)
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.fixture
def tiny_budget(monkeypatch):
    """Every part over INTERPBOARD_PART_BUDGET_S: offered with its estimate, computed only when asked for."""
    monkeypatch.setenv("INTERPBOARD_PART_BUDGET_S", "1e-9")


REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


@pytest.fixture(scope="session")
def tiny_registry(tmp_path_factory) -> Path:
    """Path of a registry TOML naming tiny models of every architecture and task (and the real MiniLM).

    Also exported as $INTERPBOARD_MODELS, so code under test and worker subprocesses see it.
    """
    from tests.tiny_models import build_tiny_models

    path = build_tiny_models(tmp_path_factory.mktemp("tiny-models"))
    os.environ["INTERPBOARD_MODELS"] = str(path)
    return path


@pytest.fixture(scope="session")
def redis_server() -> str:
    """The real Redis on 127.0.0.1:6379. Fails (never skips) when it is not answering."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not answering on {REDIS_HOST}:{REDIS_PORT} ({exc}); `make test` starts one")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}"


TEST_DBS = range(8, 16)
LOCK_PREFIX = "interpboard-test-db-lock:"  # in DB 0, so parallel test runs never share a database


@contextmanager
def leased_redis_db(redis_server: str) -> Iterator[str]:
    """The URL of a Redis database (one of DBs 8-15) no other test holds meanwhile, emptied before and after."""
    import redis

    locks = redis.Redis.from_url(f"{redis_server}/0")
    token = f"{os.getpid()}:{time.monotonic_ns()}"
    deadline = time.monotonic() + 120
    while True:
        db = next((d for d in TEST_DBS if locks.set(f"{LOCK_PREFIX}{d}", token, nx=True, ex=1800)), None)
        if db is not None:
            break
        if time.monotonic() > deadline:
            pytest.fail("no free Redis test database (8-15) within 120 s")
        time.sleep(0.2)
    url = f"{redis_server}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        if locks.get(f"{LOCK_PREFIX}{db}") == token.encode():
            locks.delete(f"{LOCK_PREFIX}{db}")


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A Redis database of its own for one test."""
    with leased_redis_db(redis_server) as url:
        yield url


# Fixtures that start Celery workers, gunicorn, flower or redis-server: a test using one (directly or
# through another fixture) is marked `processes`, which `make test-fast` leaves out.
PROCESS_FIXTURES = frozenset({"celery_worker_module", "redis_services"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.processes)
