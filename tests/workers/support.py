"""Helpers for the job-layer tests: requests of known cost, a real Celery worker process, polling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from interp.schema import AnalysisRequest
from workers import Executor, JobStatus
from workers.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]

# Bounds for a job that hangs; the visibility timeout must stay above the longest job.
TEST_LIMITS = {"INTERPBOARD_JOB_TIME_LIMIT": "120", "INTERPBOARD_VISIBILITY_TIMEOUT": "135"}

QUICK = AnalysisRequest(
    model="tiny-bert-sst",
    task="sst",
    text="the movie was great",
    methods=("grad_norm", "attention_sensitivity"),
)
# Seconds of work on a tiny model (64 tokens, integrated gradients with many steps, then per-layer
# sensitivity): long enough to watch it run, cancel it, or follow it from other threads.
SLOW = AnalysisRequest(
    model="tiny-gpt2",
    task="causal-lm",
    text=" ".join(["the cat sat on the mat while the dog slept"] * 5),
    methods=("integrated_gradients", "attention_sensitivity"),
    ig_steps=250,
)
# Integrated gradients alone, many steps: seconds of work as a part of its own, time to cancel it.
SLOW_IG = SLOW.with_(methods=("grad_norm", "integrated_gradients"), ig_steps=1000)
TIMEOUT = 180


def wait_for(
    executor: Executor, job_id: str, condition: Callable[[JobStatus], bool], timeout: float = TIMEOUT
) -> JobStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = executor.status(job_id)
        if condition(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"condition not met; last status {status}")


def worker_env(settings_env: dict[str, str], tiny_registry: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERPBOARD_")}
    return {**env, **settings_env, "INTERPBOARD_MODELS": str(tiny_registry)}


@contextmanager
def celery_worker(env: dict[str, str], log: Path, *extra: str) -> Iterator[subprocess.Popen]:
    """A real `interpboard worker` process (its own process group), ready to take jobs; always stopped."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashapp.cli", "worker", "--concurrency", "1", *extra],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_ready(proc, env["INTERPBOARD_BROKER"], log)
        yield proc
    finally:
        stop_group(proc)


def wait_until_ready(proc: subprocess.Popen, broker: str, log: Path, timeout: float = 90) -> None:
    from workers.app import make_app

    app = make_app(Settings(broker=broker))
    node = f"interpboard-{proc.pid}@"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"worker exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            replies = app.control.ping(timeout=0.5)
            if any(name.startswith(node) for reply in replies for name in reply):
                return
        pytest.fail(f"worker not ready after {timeout} s:\n{log.read_text()[-3000:]}")
    finally:
        app.close()


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)
        except ProcessLookupError:
            pass
    proc.wait()
