"""Faults: a worker SIGKILLed mid-job, Redis restarted under the web, and a corpus of bad requests.

Runs gunicorn + a Celery worker against a private redis-server (never the shared one on 6379):
1. SIGKILL the worker's process group while a job runs, start a new worker: the job is redelivered
   (after the visibility timeout, 30 s here) and completes.
2. Stop Redis: every API answer meanwhile is a 503 with a JSON error; start it again: the web
   recovers by itself, old results are still there, and a new job completes.
3. The bad-input corpus (tests/deploy/bad_inputs.py) through the API: each a 4xx with a message;
   the worker never dies.
Prints every figure; exits non-zero if any check failed. Last line: seconds from the SIGKILL to the
job done.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from tests.deploy.bad_inputs import BAD_INPUTS
from tests.deploy.stack import Stack, local_stack, start_worker, wait_for, wait_job

SLOW = {
    "model": "tiny-bert-sst",
    "task": "sst",
    "text": "the quick brown fox jumps over the lazy dog " * 5,
    "methods": ["integrated_gradients", "attention_sensitivity"],
    "ig_steps": 500,
}
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        failures.append(what)


def submit(base: str, payload: dict) -> dict:
    response = requests.post(f"{base}/api/analyses", json=payload, timeout=30)
    assert response.status_code in (200, 202), response.text
    return response.json()


def worker_killed_mid_job(stack: Stack) -> float:
    job_id = submit(stack.base, SLOW)["job_id"]
    seen: dict = {}

    def computing() -> bool:  # past loading: the engine has reported a stage
        seen.update(requests.get(f"{stack.base}/api/jobs/{job_id}", timeout=10).json())
        if seen["state"] not in ("queued", "running"):
            raise RuntimeError(f"job ended ({seen['state']}) before it could be killed: make SLOW slower")
        return seen["state"] == "running" and seen["progress"] > 0

    wait_for(computing, 120, "job start")
    stack.services["worker"].kill()
    killed_at = time.monotonic()
    print(f"worker SIGKILLed while job {job_id} was at stage {seen['stage']!r} ({seen['progress']:.0%})")
    check(
        requests.get(f"{stack.base}/api/health", timeout=10).status_code == 200, "web healthy with no worker"
    )
    stack.services["worker"] = start_worker(stack.root, stack.env, name="worker-2")
    print(f"new_worker_ready_s={time.monotonic() - killed_at:.2f}")
    job = wait_job(stack.base, job_id, timeout=300)
    recovered = time.monotonic() - killed_at
    check(
        job["state"] == "done",
        f"killed job completed on the new worker (state {job['state']}, deliveries {job['deliveries']})",
    )
    print(f"kill_to_done_s={recovered:.2f} deliveries={job['deliveries']}")
    return recovered


def redis_restart(stack: Stack) -> None:
    before = submit(stack.base, {"model": "tiny-bert-sst", "task": "sst", "text": "the film was terrible"})
    if before["job_id"]:
        wait_job(stack.base, before["job_id"])
    stack.services["redis"].stop()
    down_at = time.monotonic()
    probes = [
        ("GET", "/api/health", None),
        ("POST", "/api/analyses", {"model": "tiny-bert-sst", "task": "sst", "text": "new text"}),
        ("GET", f"/api/analyses/{before['key']}", None),
        ("GET", "/api/analyses", None),
        ("GET", "/api/jobs/abc", None),
    ]
    answers = []
    while time.monotonic() - down_at < 5:
        for method, path, body in probes:
            try:
                response = requests.request(method, stack.base + path, json=body, timeout=30)
                body = response.json()
                answers.append(
                    (
                        path,
                        response.status_code,
                        bool(body.get("error") or body.get("status") == "unavailable"),
                    )
                )
            except (requests.RequestException, ValueError) as exc:
                answers.append((path, f"no answer: {type(exc).__name__}", False))
    clear = [a for a in answers if a[1] == 503 and a[2]]
    print(f"redis_down_requests={len(answers)} answered_503_json={len(clear)}")
    check(
        len(clear) == len(answers),
        f"every request while Redis was down got a 503 JSON error ({set(a[1] for a in answers)})",
    )

    stack.restart_redis()
    up_at = time.monotonic()
    wait_for(
        lambda: requests.get(f"{stack.base}/api/health", timeout=10).status_code == 200, 120, "web recovery"
    )
    print(f"web_recovery_after_redis_up_s={time.monotonic() - up_at:.2f}")
    check(
        requests.get(f"{stack.base}/api/analyses/{before['key']}", timeout=10).status_code == 200,
        "a result from before the restart is still readable",
    )
    after = submit(
        stack.base, {"model": "tiny-bert-sst", "task": "sst", "text": "the weather today is cold but sunny"}
    )
    job = wait_job(stack.base, after["job_id"], timeout=180)
    print(f"new_job_after_restart_s={time.monotonic() - up_at:.2f}")
    check(job["state"] == "done", f"a new job completes after the restart (state {job['state']})")


def bad_inputs(stack: Stack) -> None:
    wrong = []
    for bad in BAD_INPUTS:
        headers = {"Content-Type": bad.content_type} if bad.content_type else {}
        response = requests.request(
            bad.method, stack.base + bad.path, data=bad.body, headers=headers, timeout=30
        )
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        if response.status_code != bad.status or not is_json or not response.json().get("error"):
            wrong.append(f"{bad.name}: {response.status_code} {response.text[:120]}")
    for line in wrong:
        print("  wrong answer:", line)
    print(f"bad_inputs={len(BAD_INPUTS)} clear_4xx={len(BAD_INPUTS) - len(wrong)}")
    check(not wrong, "every bad input got its 4xx with a message")
    failing = submit(
        stack.base, {"model": "tiny-bert-sst", "task": "sst", "text": "fine", "target": "no-such-label"}
    )
    job = wait_job(stack.base, failing["job_id"])
    check(
        job["state"] == "error" and bool(job["error"]),
        f"an engine-side failure is a job error: {job['error']!r}",
    )
    check(stack.services["worker"].process.poll() is None, "the worker is still alive")
    check(requests.get(f"{stack.base}/api/health", timeout=10).status_code == 200, "the web is still healthy")


def main() -> None:
    # Short limits so a lost job comes back in seconds, not the production hour.
    limits = {"INTERPBOARD_JOB_TIME_LIMIT": "20", "INTERPBOARD_VISIBILITY_TIMEOUT": "30"}
    with (
        tempfile.TemporaryDirectory(prefix="interpboard-faults-") as tmp,
        local_stack(Path(tmp), web_workers=2, **limits) as stack,
    ):
        bad_inputs(stack)
        redis_restart(stack)
        recovered = worker_killed_mid_job(stack)
    print(f"failures={len(failures)}")
    print(f"seconds={recovered:.2f}")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
