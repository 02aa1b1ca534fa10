"""The compose commands started for real: gunicorn + `interpboard worker` + flower against local Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.deploy.stack import (Service, free_port, stack_env, start_flower, start_redis, start_web, start_worker,
                                wait_job)
from workers.settings import safe_url

pytestmark = pytest.mark.slow

SST = {"model": "tiny-bert-sst", "task": "sst", "text": "the weather today is cold but sunny",
       "methods": ["grad_norm", "attention_rollout"]}


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
    services.append(cpu := start_worker(tmp_path, stack_env(redis_url, cache, tiny_registry), queues="cpu", name="cpu"))
    services.append(gpu := start_worker(tmp_path, stack_env(redis_url, cache, tiny_registry), queues="gpu", name="gpu"))
    webs = {}
    for queue in ("cpu", "gpu"):  # one web instance per routing choice, sharing broker and cache
        port = free_port()
        services.append(start_web(tmp_path, stack_env(redis_url, cache, tiny_registry, INTERPBOARD_QUEUE=queue),
                                  port, workers=1, name=f"web-{queue}"))
        webs[queue] = f"http://127.0.0.1:{port}"

    on_cpu = round_trip(webs["cpu"], SST)
    on_gpu = round_trip(webs["gpu"], {**SST, "text": "children are playing football in the garden"})
    # Celery's pool children run the jobs: their parent is the worker we started for that queue.
    assert _parent_pid(on_cpu["job"]["worker"]) == cpu.process.pid
    assert _parent_pid(on_gpu["job"]["worker"]) == gpu.process.pid
    assert on_gpu["job"]["queue"] == "gpu" and on_cpu["job"]["queue"] == "cpu"
    # Results are shared: the cpu-routed web answers the gpu-computed analysis from the cache.
    assert requests.post(f"{webs['cpu']}/api/analyses", json={**SST, "text": on_gpu["text"]}, timeout=30).json()["cached"]


def _parent_pid(worker: str) -> int:
    pid = int(worker.rsplit(":", 1)[1])
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_password_protected_redis_works_and_is_never_logged(tiny_registry, tmp_path, services) -> None:
    password = "s3cret-redis-pw"
    port = free_port()
    services.append(start_redis(tmp_path, port, password=password))
    broker = f"redis://:{password}@127.0.0.1:{port}/0"
    env = stack_env(broker, f"redis://:{password}@127.0.0.1:{port}/1", tiny_registry)
    services.append(start_worker(tmp_path, env))
    web_port = free_port()
    services.append(start_web(tmp_path, env, web_port, workers=1))
    base = f"http://127.0.0.1:{web_port}"

    health = requests.get(f"{base}/api/health", timeout=10)
    assert health.status_code == 200, health.text
    round_trip(base, SST)
    assert password not in health.text
    assert password not in safe_url(broker) and "127.0.0.1" in safe_url(broker)
    for service in services:
        assert password not in service.logs(), service.name
    assert "Connected to redis://:**@" in services[1].logs()  # Celery's own masking, as a sanity check


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


def test_full_broker_is_a_clear_503(tiny_registry, tmp_path, services) -> None:
    import redis

    port = free_port()
    services.append(start_redis(tmp_path, port, "--maxmemory", "4mb"))
    broker = f"redis://127.0.0.1:{port}/0"
    web_port = free_port()
    services.append(start_web(tmp_path, stack_env(broker, str(tmp_path / "results"), tiny_registry), web_port, workers=1))
    base = f"http://127.0.0.1:{web_port}"
    assert requests.get(f"{base}/api/health", timeout=10).status_code == 200
    client = redis.Redis.from_url(broker)
    with pytest.raises(redis.OutOfMemoryError):  # fill it past maxmemory: noeviction refuses further writes
        for i in range(2000):
            client.set(f"ballast{i}", b"x" * 10_000)

    health = requests.get(f"{base}/api/health", timeout=10)
    assert health.status_code == 503 and "full" in health.json()["checks"]["broker"]["detail"]
    submitted = requests.post(f"{base}/api/analyses", json=SST, timeout=30)
    assert submitted.status_code == 503 and "full" in submitted.json()["error"]


def test_flower_monitors_the_broker(tiny_registry, redis_url, tmp_path, services) -> None:
    port = free_port()
    services.append(start_flower(tmp_path, stack_env(redis_url, str(tmp_path / "results"), tiny_registry), port))
    dashboard = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert dashboard.status_code == 200 and "Flower" in dashboard.text


WEB_WITHOUT_ENGINE = """
import sys
from importlib.abc import MetaPathFinder

class NotInTheWebImage(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "transformers", "captum", "tokenizers"}:
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
assert client.get("/").status_code == 200
print("web ok without", sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "transformers"}))
"""


def test_web_image_runs_without_the_engine_packages(tiny_registry, redis_url, tmp_path) -> None:
    """The slim web image has no torch/transformers/captum/tokenizers: the web, the API and flower's imports work."""
    done = subprocess.run([sys.executable, "-c", WEB_WITHOUT_ENGINE], cwd=Path(__file__).resolve().parents[2],
                          env={**os.environ, **stack_env(redis_url, str(tmp_path), tiny_registry)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "web ok without []" in done.stdout
