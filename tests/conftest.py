"""Shared fixtures: tiny real-architecture models on disk, and a real Redis."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Offline, quiet, deterministic: no test may reach the Hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent
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


_next_db = iter(range(8, 16))


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """A dedicated, emptied Redis database for one test (DBs 8-15 rotate), emptied again after."""
    import redis

    db = next(_next_db, None)
    if db is None:  # wrap around: tests run one after another, each DB is flushed before use
        globals()["_next_db"] = iter(range(9, 16))
        db = 8
    url = f"{redis_server}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
