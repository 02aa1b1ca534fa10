"""The compose commands started for real: gunicorn + `interpboard worker` + flower against local Redis."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.deploy.stack import (
    Service,
    compose_command,
    compose_environment,
    compose_healthcheck,
    free_port,
    stack_env,
    start,
    start_compose_redis,
    start_redis,
    start_web,
    start_worker,
    wait_for,
    wait_job,
)
from workers.settings import safe_url

pytestmark = [pytest.mark.slow, pytest.mark.processes]

SST = {
    "model": "tiny-bert-sst",
    "task": "sst",
    "text": "the weather today is cold but sunny",
    "methods": ["grad_norm", "attention_rollout"],
}


@pytest.fixture
def services():
    started: list[Service] = []
    yield started
    for service in reversed(started):
        service.stop()


def round_trip(base: str, payload: dict) -> dict:
    submitted = requests.post(f"{base}/api/analyses", json=payload, timeout=30)
    assert submitted.status_code == 202, submitted.text
    job = wait_job(base, submitted.json()["job_id"])
    assert job["state"] == "done", job
    result = requests.get(base + submitted.headers["Location"], timeout=30)
    assert result.status_code == 200
    again = requests.post(f"{base}/api/analyses", json=payload, timeout=30).json()
    assert again["cached"] is True and again["key"] == submitted.json()["key"]
    return {**result.json(), "job": job}


def test_gunicorn_and_celery_worker_round_trip(tiny_registry, redis_url, tmp_path, services) -> None:
    env = stack_env(redis_url, str(tmp_path / "results"), tiny_registry)
    services.append(worker := start_worker(tmp_path, env))
    port = free_port()
    services.append(start_web(tmp_path, env, port, workers=2))
    base = f"http://127.0.0.1:{port}"

    health = requests.get(f"{base}/api/health", timeout=10)
    assert health.status_code == 200, health.text
    assert health.json()["checks"]["broker"]["ok"] and health.json()["checks"]["cache"]["ok"]

    analysis = round_trip(base, SST)
    assert _parent_pid(analysis["job"]["worker"]) == worker.process.pid  # computed by the worker we started
    # docker-compose.yml's healthcheck pings interpboard-1@$HOSTNAME: the node is named after the worker's PID.
    assert f"interpboard-{worker.process.pid}@" in worker.logs()
    listing = requests.get(f"{base}/api/analyses", timeout=10).json()
    assert listing["total"] == 1 and listing["items"][0]["key"] == analysis["key"]
    assert requests.get(f"{base}/_dash-layout", timeout=30).status_code == 200  # the Dash app is there too


def test_two_workers_on_cpu_and_gpu_queues(tiny_registry, redis_url, tmp_path, services) -> None:
    """More workers join with the same broker and cache; each queue's jobs run on its own workers."""
    cache = str(tmp_path / "results")
    services.append(
        cpu := start_worker(tmp_path, stack_env(redis_url, cache, tiny_registry), queues="cpu", name="cpu")
    )
    services.append(
        gpu := start_worker(tmp_path, stack_env(redis_url, cache, tiny_registry), queues="gpu", name="gpu")
    )
    webs = {}
    for queue in ("cpu", "gpu"):  # one web instance per routing choice, sharing broker and cache
        port = free_port()
        services.append(
            start_web(
                tmp_path,
                stack_env(redis_url, cache, tiny_registry, INTERPBOARD_QUEUE=queue),
                port,
                workers=1,
                name=f"web-{queue}",
            )
        )
        webs[queue] = f"http://127.0.0.1:{port}"

    on_cpu = round_trip(webs["cpu"], SST)
    on_gpu = round_trip(webs["gpu"], {**SST, "text": "children are playing football in the garden"})
    # Celery's pool children run the jobs: their parent is the worker we started for that queue.
    assert _parent_pid(on_cpu["job"]["worker"]) == cpu.process.pid
    assert _parent_pid(on_gpu["job"]["worker"]) == gpu.process.pid
    assert on_gpu["job"]["queue"] == "gpu" and on_cpu["job"]["queue"] == "cpu"
    # Results are shared: the cpu-routed web answers the gpu-computed analysis from the cache.
    assert requests.post(
        f"{webs['cpu']}/api/analyses", json={**SST, "text": on_gpu["text"]}, timeout=30
    ).json()["cached"]


def _parent_pid(worker: str) -> int:
    pid = int(worker.rsplit(":", 1)[1])
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_compose_commands_for_real(tiny_registry, tmp_path, services) -> None:
    """docker-compose.yml's own commands and environment, run as compose runs them (only host names and ports
    differ): both Redis instances with a password, `interpboard worker`, gunicorn. Their healthchecks pass, an
    analysis goes round, the web (bound to 0.0.0.0, no auth) warns in its log, and neither the password nor a
    query string is ever logged."""
    password = "s3cret-redis-pw"
    shell = {
        "INTERPBOARD_REDIS_PASSWORD": password,
        "INTERPBOARD_MODELS": str(tiny_registry),
    }  # the operator's .env
    redis_ports = {name: free_port() for name in ("redis-broker", "redis-cache")}
    for name, port in redis_ports.items():
        services.append(start_compose_redis(name, tmp_path, port, shell))

    def env_for(service: str) -> dict[str, str]:
        env = compose_environment(service, shell)
        for name, port in redis_ports.items():
            env = {k: v.replace(f"@{name}:6379/", f"@127.0.0.1:{port}/") for k, v in env.items()}
        assert env["INTERPBOARD_BROKER"].startswith(f"redis://:{password}@127.0.0.1:")
        # Only HF_HOME=/data/hf is the images'; the console scripts are this virtualenv's.
        return {
            **stack_env(env["INTERPBOARD_BROKER"], env["INTERPBOARD_CACHE"], tiny_registry),
            **env,
            "HF_HOME": str(tmp_path / "hf"),
            "HOSTNAME": socket.gethostname(),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }

    worker_env = env_for("worker")
    services.append(worker := start("worker", compose_command("worker", shell), tmp_path, worker_env))
    wait_for(lambda: " ready." in worker.logs(), 120, "worker", worker)
    web_argv, port = compose_command("web", shell), free_port()
    web_argv[web_argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    services.append(web := start("web", web_argv, tmp_path, env_for("web")))
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: requests.get(f"{base}/api/health", timeout=5).status_code == 200, 120, "web", web)

    def healthcheck(service: str, env: dict[str, str], *replace: tuple[str, str]) -> int:
        probe = compose_healthcheck(service, shell)
        for old, new in replace:
            assert old in probe
            probe = probe.replace(old, new)
        return subprocess.run(
            ["sh", "-c", probe], env={**os.environ, **env}, capture_output=True, timeout=60
        ).returncode

    assert healthcheck("web", env_for("web"), (":8050/", f":{port}/")) == 0
    # In the container the worker is PID 1; here it has its own.
    assert healthcheck("worker", worker_env, ("interpboard-1@", f"interpboard-{worker.process.pid}@")) == 0
    assert (
        healthcheck("worker", worker_env, ("interpboard-1@", "interpboard-999999999@")) != 0
    )  # a ping nobody answers

    analysis = round_trip(base, SST)
    assert _parent_pid(analysis["job"]["worker"]) == worker.process.pid
    assert re.search(r"\[WARNING\] interpboard is listening on 0\.0\.0\.0 WITHOUT authentication", web.logs())
    assert requests.get(f"{base}/api/analyses?q=words-someone-searched", timeout=10).status_code == 200
    wait_for(lambda: '"GET /api/analyses HTTP/1.1" 200' in web.logs(), 10, "the access log line")
    assert "words-someone-searched" not in web.logs()  # the access log leaves out query strings (?token= too)
    health = requests.get(f"{base}/api/health", timeout=10)
    assert password not in health.text and health.json()["checks"]["cache"]["ok"]
    assert password not in safe_url(worker_env["INTERPBOARD_BROKER"]) and "127.0.0.1" in safe_url(
        worker_env["INTERPBOARD_BROKER"]
    )
    for service in services:
        assert password not in service.logs(), service.name
    assert "Connected to redis://:**@" in worker.logs()  # Celery's own masking, as a sanity check


def test_wrong_redis_password_is_503_without_the_password(tiny_registry, tmp_path, services) -> None:
    port = free_port()
    services.append(start_redis(tmp_path, port, password="the-right-one"))
    url = f"redis://:the-wrong-one@127.0.0.1:{port}/0"
    web_port = free_port()
    services.append(start_web(tmp_path, stack_env(url, url, tiny_registry), web_port, workers=1))
    base = f"http://127.0.0.1:{web_port}"
    health = requests.get(f"{base}/api/health", timeout=10)
    assert health.status_code == 503 and not health.json()["checks"]["broker"]["ok"]
    submitted = requests.post(f"{base}/api/analyses", json=SST, timeout=30)
    assert submitted.status_code == 503 and "error" in submitted.json()
    for text in (health.text, submitted.text, services[1].logs()):
        assert "the-wrong-one" not in text


def test_redis_restart_is_a_clear_503_then_the_web_recovers_by_itself(
    tiny_registry, tmp_path, services
) -> None:
    port, web_port = free_port(), free_port()
    services.append(start_redis(tmp_path, port))
    url = f"redis://127.0.0.1:{port}"
    services.append(
        start_web(tmp_path, stack_env(f"{url}/0", f"{url}/1", tiny_registry), web_port, workers=1)
    )
    base = f"http://127.0.0.1:{web_port}"
    submitted = requests.post(f"{base}/api/analyses", json=SST, timeout=30)  # no worker: it stays queued
    assert submitted.status_code == 202, submitted.text

    services[0].stop()
    for method, path in (
        ("GET", "/api/health"),
        ("POST", "/api/analyses"),
        ("GET", "/api/analyses"),
        ("GET", f"/api/jobs/{submitted.json()['job_id']}"),
        ("GET", f"/api/analyses/{'a' * 64}"),
    ):
        response = requests.request(method, base + path, json=SST if method == "POST" else None, timeout=30)
        assert response.status_code == 503 and response.headers["Content-Type"] == "application/json", (
            path,
            response.text,
        )
        assert response.json().get("error") or response.json()["status"] == "unavailable", path

    services[0] = start_redis(tmp_path, port)  # the same append-only file: the queued job is still there
    wait_for(
        lambda: requests.get(f"{base}/api/health", timeout=10).status_code == 200, 60, "the web to recover"
    )
    job = requests.get(f"{base}/api/jobs/{submitted.json()['job_id']}", timeout=10)
    assert job.status_code == 200 and job.json()["state"] == "queued"
    again = requests.post(f"{base}/api/analyses", json=SST, timeout=30)
    assert (
        again.status_code == 202 and again.json()["job_id"] == submitted.json()["job_id"]
    )  # still computed once


def test_full_broker_is_a_clear_503(tiny_registry, tmp_path, services) -> None:
    import redis

    port = free_port()
    services.append(start_redis(tmp_path, port, "--maxmemory", "4mb"))
    broker = f"redis://127.0.0.1:{port}/0"
    web_port = free_port()
    services.append(
        start_web(tmp_path, stack_env(broker, str(tmp_path / "results"), tiny_registry), web_port, workers=1)
    )
    base = f"http://127.0.0.1:{web_port}"
    assert requests.get(f"{base}/api/health", timeout=10).status_code == 200
    client = redis.Redis.from_url(broker)
    with pytest.raises(redis.OutOfMemoryError):  # fill it past maxmemory: noeviction refuses further writes
        for i in range(2000):
            client.set(f"ballast{i}", b"x" * 10_000)
    with pytest.raises(redis.OutOfMemoryError):  # then to the brim, so what a refused write frees is small
        for i in range(100_000):
            client.set(f"pebble{i}", b"x" * 64)

    health = requests.get(f"{base}/api/health", timeout=10)
    assert health.status_code == 503 and "full" in health.json()["checks"]["broker"]["detail"]
    submitted = requests.post(f"{base}/api/analyses", json=SST, timeout=30)
    assert submitted.status_code == 503 and "full" in submitted.json()["error"]


def test_flower_monitors_the_broker(tiny_registry, redis_url, tmp_path, services) -> None:
    """The compose file's flower command (on a free port of the loopback), and its healthcheck."""
    port = free_port()
    argv = [f"--port={port}" if a == "--port=5555" else a for a in compose_command("flower")] + [
        "--address=127.0.0.1"
    ]
    env = {
        **stack_env(redis_url, str(tmp_path / "results"), tiny_registry),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    services.append(flower := start("flower", argv, tmp_path, env))
    wait_for(
        lambda: requests.get(f"http://127.0.0.1:{port}/healthcheck", timeout=5).text == "OK",
        60,
        "flower",
        flower,
    )
    probe = compose_healthcheck("flower").replace(":5555/", f":{port}/")
    assert subprocess.run(["sh", "-c", probe], capture_output=True, timeout=30).returncode == 0
    dashboard = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert dashboard.status_code == 200 and "Flower" in dashboard.text


WEB_WITHOUT_ENGINE = """
import sys
from importlib.abc import MetaPathFinder

class NotInTheWebImage(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "transformers", "captum"}:
            raise ImportError(f"{name} is not installed in the web image")

sys.meta_path.insert(0, NotInTheWebImage())
from dashapp.wsgi import server
from workers.app import app as celery_app

celery_app.loader.import_default_modules()  # what flower and inspect load
client = server.test_client()
assert client.get("/api/health").status_code == 200
assert client.get("/api/models").json["models"]
submitted = client.post("/api/analyses", json={"model": "tiny-bert-sst", "task": "sst", "text": "queued only"})
assert submitted.status_code == 202, submitted.json
assert client.get("/api/jobs/" + submitted.json["job_id"]).json["state"] == "queued"
# The web checks requests with the model's tokenizer (tokenizers, which the web image has): 422 at once.
refused = client.post("/api/analyses", json={"model": "tiny-bert-mlm", "task": "mlm", "text": "a b", "mask_index": 0})
assert refused.status_code == 422 and "special token" in refused.json["error"], refused.json
assert client.get("/").status_code == 200
print("web ok without", sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "transformers"}))
"""


def test_web_image_runs_without_the_engine_packages(tiny_registry, redis_url, tmp_path) -> None:
    """The slim web image has no torch/transformers/captum: the web, the API and flower's imports work."""
    done = subprocess.run(
        [sys.executable, "-c", WEB_WITHOUT_ENGINE],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, **stack_env(redis_url, str(tmp_path), tiny_registry)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "web ok without []" in done.stdout
