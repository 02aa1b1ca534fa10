"""Settings from INTERPBOARD_* variables, and the Celery configuration made from them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from tests.workers.support import REPO_ROOT
from workers.app import make_app
from workers.settings import Settings, safe_url


def test_defaults_mean_embedded_executor_and_cpu_queue(monkeypatch):
    for name in (
        "INTERPBOARD_BROKER",
        "INTERPBOARD_QUEUE",
        "INTERPBOARD_VISIBILITY_TIMEOUT",
        "INTERPBOARD_JOB_TIME_LIMIT",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.broker is None and settings.queue == "cpu" and settings.max_retries == 2


def test_read_from_environment(monkeypatch):
    monkeypatch.setenv("INTERPBOARD_BROKER", "redis://127.0.0.1:6379/9")
    monkeypatch.setenv("INTERPBOARD_QUEUE", "gpu")
    monkeypatch.setenv("INTERPBOARD_EMBEDDED_WORKERS", "3")
    settings = Settings()
    assert (settings.broker, settings.queue, settings.embedded_workers) == (
        "redis://127.0.0.1:6379/9",
        "gpu",
        3,
    )


def test_visibility_timeout_must_exceed_the_longest_job():
    with pytest.raises(ValidationError, match="VISIBILITY_TIMEOUT"):
        Settings(job_time_limit=600, visibility_timeout=600)
    assert Settings(job_time_limit=600, visibility_timeout=661).hard_time_limit == 660


def test_broker_must_be_redis():
    with pytest.raises(ValidationError, match="redis://"):
        Settings(broker="amqp://guest:secret@host//")


def test_passwords_are_masked_for_logs():
    assert "secret" not in safe_url("redis://:secret@host:6379/0")
    with pytest.raises(ValidationError) as rejected:
        Settings(broker="amqp://u:secret@h//")
    assert "secret" not in str(rejected.value)


def test_celery_app_is_json_only_acks_late_and_routes_to_the_queue():
    app = make_app(
        Settings(broker="redis://127.0.0.1:6379/9", queue="gpu", job_time_limit=100, visibility_timeout=200)
    )
    conf = app.conf
    assert conf.task_serializer == conf.result_serializer == conf.event_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (100, 110)
    assert conf.broker_transport_options["visibility_timeout"] == 200
    assert conf.task_default_queue == "gpu"


def test_worker_side_imports_no_torch():
    """Models (and torch) load in the worker child at its first job, never in the parent before the fork.

    Kept beside import-linter's contracts: they must let workers.compute import interp.engine (inside
    the job body), and only running the imports shows that this import stays inside the function.
    """
    code = "import sys, workers.app, workers.celery_jobs; print(sorted(m for m in ('torch', 'transformers', 'interp.engine') if m in sys.modules))"
    env = {**os.environ, "INTERPBOARD_BROKER": "redis://127.0.0.1:6379/15"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
