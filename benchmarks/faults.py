"""Faults, with DEFAULT settings: a worker SIGKILLed mid-job, a cancel, a flood, slow clients, bad input.

Runs gunicorn + a Celery worker against a private redis-server (never the shared one on 6379), and
deploy/nginx.conf with the real nginx in front (where installed). No liveness or time-limit setting
is changed: what a deployment gets. Two basic-auth users (alice floods, bob does not) tell clients apart.
1. SIGKILL the worker's process group while a job runs, start a new worker: seconds from the kill to the
   job's next state change (requeued or ended; target <= 60), and to done.
2. Cancel a running job inside integrated gradients: seconds to `cancelled` (target <= 5).
3. alice floods the queue (her cap, then 429s); bob submits one job: his wait from submit to start,
   against one of alice's jobs' duration (target: at most one job's duration).
4. 32 slow-header clients: the success rate of health probes through the proxy, and straight to gunicorn.
5. kill -9 of the redis-server (broker and cache; appendonly yes) mid-job: every API answer meanwhile a 503
   JSON error; restarted on its data, the web recovers and the job completes.
6. The bad-input corpus (tests/deploy/bad_inputs.py): each a 4xx with a message; the worker never dies.
Prints every figure; exits non-zero if any check failed.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from tests.deploy.bad_inputs import BAD_INPUTS
from tests.deploy.stack import (
    NGINX,
    Stack,
    free_port,
    local_stack,
    probe_success,
    slow_clients,
    start_proxy,
    start_worker,
    wait_for,
    wait_job,
)

SLOW = {
    "model": "tiny-bert-sst",
    "task": "sst",
    "text": "the quick brown fox jumps over the lazy dog " * 6,
    "methods": ["integrated_gradients", "attention_sensitivity"],
    "ig_steps": 1000,
}
USERS = {"alice": "alice-pw", "bob": "bob-pw"}
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        failures.append(what)


def session(user: str) -> requests.Session:
    http = requests.Session()
    http.auth = (user, USERS[user])
    return http


def submit(http: requests.Session, base: str, payload: dict) -> requests.Response:
    response = http.post(f"{base}/api/analyses", json=payload, timeout=30)
    assert response.status_code in (200, 202, 429), response.text
    return response


def job(http: requests.Session, base: str, job_id: str) -> dict:
    return http.get(f"{base}/api/jobs/{job_id}", timeout=10).json()


def running_past(http: requests.Session, base: str, job_id: str, stage: str = "forward") -> dict:
    seen: dict = {}

    def there() -> bool:
        seen.update(job(http, base, job_id))
        if seen["state"] not in ("queued", "running"):
            raise RuntimeError(f"job ended ({seen['state']}) too early: make SLOW slower")
        return seen["state"] == "running" and seen["stage"] in (stage, "saliency", "sensitivity")

    wait_for(there, 180, f"job at stage {stage}")
    return seen


def worker_killed_mid_job(stack: Stack, http: requests.Session) -> None:
    job_id = submit(http, stack.base, {**SLOW, "text": SLOW["text"] + "killed"}).json()["job_id"]
    seen = running_past(http, stack.base, job_id)
    stack.services["worker"].kill()
    killed_at = time.monotonic()
    print(f"worker SIGKILLed while job {job_id} was at stage {seen['stage']!r}")
    stack.services["worker"] = start_worker(stack.root, stack.env, name="worker-2")
    print(f"new_worker_ready_s={time.monotonic() - killed_at:.2f}")
    moved: dict = {}

    def changed() -> bool:
        moved.update(job(http, stack.base, job_id))
        return moved["state"] != "running" or moved["worker"] != seen["worker"]

    wait_for(changed, 300, "the lost job's next state")
    to_change = time.monotonic() - killed_at
    print(f"kill_to_next_state_s={to_change:.2f} (now {moved['state']}, delivery {moved['deliveries']})")
    check(to_change <= 60, f"no job shown running more than 60 s after its worker died ({to_change:.1f} s)")
    done = wait_job(stack.base, job_id, timeout=600, session=http)
    print(f"kill_to_done_s={time.monotonic() - killed_at:.2f}")
    check(done["state"] == "done", f"the killed job completed on the new worker (state {done['state']})")


def cancel_running(stack: Stack, http: requests.Session) -> None:
    job_id = submit(http, stack.base, {**SLOW, "text": SLOW["text"] + "cancelled"}).json()["job_id"]
    running_past(http, stack.base, job_id)
    asked = time.monotonic()
    answer = http.delete(f"{stack.base}/api/jobs/{job_id}", timeout=10).json()
    ended = wait_job(stack.base, job_id, timeout=120, session=http)
    seconds = time.monotonic() - asked
    print(f"cancel_to_cancelled_s={seconds:.2f} (the job at once: {answer['job']['stage_text']!r})")
    check(
        ended["state"] == "cancelled" and seconds <= 5,
        f"cancel stops a running job within 5 s ({seconds:.1f} s)",
    )


def flood(stack: Stack, alice: requests.Session, bob: requests.Session) -> None:
    one = SLOW
    answers = [submit(alice, stack.base, {**one, "text": f"flood {i} " + one["text"]}) for i in range(30)]
    accepted = [a.json()["job_id"] for a in answers if a.status_code == 202]
    refused = [a for a in answers if a.status_code == 429]
    print(f"flood_accepted={len(accepted)} flood_refused_429={len(refused)}")
    check(
        bool(refused) and all(a.headers.get("Retry-After") for a in refused),
        "a flooding client is refused (429 with Retry-After) past its cap",
    )
    wait_for(lambda: job(alice, stack.base, accepted[0])["state"] != "queued", 120, "the flood's first job")
    submitted = time.time()
    bobs = submit(bob, stack.base, {**one, "text": "bob's own " + one["text"]}).json()["job_id"]
    started: dict = {}
    wait_for(lambda: started.update(job(bob, stack.base, bobs)) or started["started_at"], 300, "bob's job")
    wait = started["started_at"] - submitted
    first = wait_job(stack.base, accepted[0], timeout=300, session=alice)
    duration = first["finished_at"] - first["started_at"]
    print(f"second_client_wait_s={wait:.2f} one_job_s={duration:.2f} flood_queued_behind={len(accepted) - 1}")
    check(wait <= duration + 1, f"another client's job waits at most one job's duration ({wait:.1f} s)")
    for job_id in accepted:
        alice.delete(f"{stack.base}/api/jobs/{job_id}", timeout=10)


def broker_killed_mid_job(stack: Stack, http: requests.Session) -> None:
    """kill -9 of the redis-server (broker, records and cache here; appendonly yes) while a job runs."""
    job_id = submit(http, stack.base, {**SLOW, "text": SLOW["text"] + "broker"}).json()["job_id"]
    running_past(http, stack.base, job_id)
    stack.services["redis"].kill()
    down_at = time.monotonic()
    answers = []
    while time.monotonic() - down_at < 3:
        for path in ("/api/health", f"/api/jobs/{job_id}", "/api/analyses"):
            try:
                response = http.get(stack.base + path, timeout=30)
                answers.append(
                    response.status_code == 503
                    and bool(response.json().get("error") or response.json().get("status") == "unavailable")
                )
            except (requests.RequestException, ValueError):
                answers.append(False)
    print(f"redis_down_requests={len(answers)} answered_503_json={sum(answers)}")
    check(all(answers), "every request while Redis was down got a 503 JSON error")
    stack.restart_redis()
    up_at = time.monotonic()
    wait_for(lambda: http.get(f"{stack.base}/api/health", timeout=10).status_code == 200, 120, "web recovery")
    print(f"web_recovery_after_redis_up_s={time.monotonic() - up_at:.2f}")
    ended = wait_job(stack.base, job_id, timeout=600, session=http)
    print(
        f"broker_restart_to_job_end_s={time.monotonic() - up_at:.2f} (state {ended['state']}, deliveries {ended['deliveries']})"
    )
    check(
        ended["state"] == "done",
        f"the job running across the broker restart completed (state {ended['state']})",
    )


def slow_client_probes(stack: Stack) -> None:
    web_port = int(stack.base.rsplit(":", 1)[1])
    targets = {"gunicorn": stack.base}
    if Path(NGINX).exists():
        proxy_port = free_port()
        stack.services["proxy"] = start_proxy(stack.root, proxy_port, web_port)
        targets = {"proxy": f"http://127.0.0.1:{proxy_port}", **targets}
    for name, base in targets.items():
        stop = threading.Event()
        threads = slow_clients(base, 32, stop)
        time.sleep(1)
        rate = probe_success(base)
        stop.set()
        for thread in threads:
            thread.join(5)
        print(f"slow_clients_probe_success_{name}={rate:.0%}")
        if name == "proxy":
            check(rate == 1.0, "behind the proxy, 32 slow-header clients starve no health probe")


def bad_inputs(stack: Stack, http: requests.Session) -> None:
    wrong = []
    for bad in BAD_INPUTS:
        headers = {"Content-Type": bad.content_type} if bad.content_type else {}
        # A connection each: the server may close one after refusing a body it did not read (413).
        response = requests.request(
            bad.method, stack.base + bad.path, data=bad.body, headers=headers, auth=http.auth, timeout=30
        )
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        if response.status_code != bad.status or not is_json or not response.json().get("error"):
            wrong.append(f"{bad.name}: {response.status_code} {response.text[:120]}")
    for line in wrong:
        print("  wrong answer:", line)
    print(f"bad_inputs={len(BAD_INPUTS)} clear_4xx={len(BAD_INPUTS) - len(wrong)}")
    check(not wrong, "every bad input got its 4xx with a message")
    check(stack.services["worker"].process.poll() is None, "the worker is still alive")


def main() -> None:
    users = ",".join(f"{name}:{password}" for name, password in USERS.items())
    with (
        tempfile.TemporaryDirectory(prefix="interpboard-faults-") as tmp,
        local_stack(Path(tmp), web_workers=2, INTERPBOARD_USERS=users) as stack,
    ):
        alice, bob = session("alice"), session("bob")
        bad_inputs(stack, alice)
        cancel_running(stack, alice)
        flood(stack, alice, bob)
        slow_client_probes(stack)
        broker_killed_mid_job(stack, bob)
        worker_killed_mid_job(stack, bob)
    print(f"failures={len(failures)}")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
