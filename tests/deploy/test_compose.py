"""docker-compose.yml and the Dockerfile, checked without a Docker engine (none runs here)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def command(service: str) -> list[str]:
    raw = SERVICES[service]["command"]
    return shlex.split(raw) if isinstance(raw, str) else raw


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_services() -> None:
    assert set(SERVICES) == {"redis-broker", "redis-cache", "web", "worker", "worker-gpu", "flower"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_service_has_a_healthcheck(service: str) -> None:
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL")
    probe = " ".join(test[1:])
    expected = {"redis-broker": "redis-cli ping", "redis-cache": "redis-cli ping", "web": "/api/health",
                "worker": "inspect ping", "worker-gpu": "inspect ping", "flower": "/healthcheck"}[service]
    assert expected in probe


def test_broker_persists_and_never_evicts() -> None:
    argv = command("redis-broker")
    assert option(argv, "--appendonly") == "yes"
    assert option(argv, "--maxmemory-policy") == "noeviction"
    assert any(v.endswith(":/data") for v in SERVICES["redis-broker"]["volumes"])


def test_cache_is_bounded_lru() -> None:
    argv = command("redis-cache")
    assert option(argv, "--maxmemory-policy") == "allkeys-lru"
    assert re.fullmatch(r"(\$\{\w+:-)?\d+[kmg]b\}?", option(argv, "--maxmemory"))


def test_web_runs_gunicorn_with_several_workers() -> None:
    argv = command("web")
    assert argv[:2] == ["gunicorn", "dashapp.wsgi:server"]
    assert int(option(argv, "--workers")) >= 2
    assert option(argv, "--worker-class") == "gthread" and int(option(argv, "--threads")) > 1  # keep-alive
    assert option(argv, "--bind") == "0.0.0.0:8050" == SERVICES["web"]["environment"]["INTERPBOARD_BIND"]


def test_workers_listen_on_their_queues() -> None:
    cpu, gpu = command("worker"), command("worker-gpu")
    assert cpu[:2] == gpu[:2] == ["interpboard", "worker"]
    assert option(cpu, "--queues") == "cpu" and int(option(cpu, "--concurrency")) >= 1
    assert option(gpu, "--queues") == "gpu"
    assert SERVICES["worker"]["environment"]["INTERPBOARD_DEVICE"] == "cpu"
    assert SERVICES["worker-gpu"]["environment"]["INTERPBOARD_DEVICE"] == "cuda"


def test_gpu_worker_is_an_optional_profile_reserving_a_device() -> None:
    gpu = SERVICES["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert "cu" in gpu["build"]["args"]["TORCH_INDEX"]
    assert all("profiles" not in spec for name, spec in SERVICES.items() if name != "worker-gpu")


def test_flower_watches_the_broker() -> None:
    argv = command("flower")
    assert argv[:4] == ["celery", "-A", "workers.app", "flower"]
    assert SERVICES["flower"]["environment"]["INTERPBOARD_BROKER"].startswith("redis://redis-broker:")


def test_everyone_shares_one_broker_and_one_cache() -> None:
    envs = [SERVICES[s]["environment"] for s in ("web", "worker", "worker-gpu", "flower")]
    assert len({e["INTERPBOARD_BROKER"] for e in envs}) == 1
    assert len({e["INTERPBOARD_CACHE"] for e in envs}) == 1
    assert "redis-cache" in envs[0]["INTERPBOARD_CACHE"]


def test_configuration_is_environment_only() -> None:
    for name in ("web", "worker", "worker-gpu", "flower"):
        env = SERVICES[name]["environment"]
        assert all(k.startswith("INTERPBOARD_") or k == "HF_HOME" for k in env), name


def test_model_cache_volume_is_read_only_in_web() -> None:
    assert {"hf-cache", "results", "broker-data", "cache-data"} <= set(COMPOSE["volumes"])
    assert "hf-cache:/data/hf:ro" in SERVICES["web"]["volumes"]
    for worker in ("worker", "worker-gpu"):
        assert "hf-cache:/data/hf" in SERVICES[worker]["volumes"]
        assert "results:/data/results" in SERVICES[worker]["volumes"]
    assert all(SERVICES[s]["environment"]["HF_HOME"] == "/data/hf" for s in ("web", "worker"))


def test_services_wait_for_healthy_redis() -> None:
    for name in ("web", "worker", "flower"):
        assert SERVICES[name]["depends_on"]["redis-broker"]["condition"] == "service_healthy"


def test_dockerfile_targets() -> None:
    stages = re.findall(r"^FROM \S+ AS (\w+)$", DOCKERFILE, re.MULTILINE)
    assert stages == ["base", "web", "worker"]
    for name in ("web", "worker", "worker-gpu", "flower"):
        assert SERVICES[name]["build"]["target"] in stages
    web = DOCKERFILE.split("AS web", 1)[1].split("AS worker", 1)[0]
    worker = DOCKERFILE.split("AS worker", 1)[1]
    assert "torch" in web and "'torch' not in sys.modules" in web  # excluded, and checked at build time
    assert "--index-url \"$TORCH_INDEX\"" in worker and "whl/cpu" in worker
    assert "curl" in DOCKERFILE  # the web and flower healthchecks use it


def test_web_image_requirements_exclude_the_engine() -> None:
    """Run the Dockerfile's own requirement filter against pyproject.toml."""
    script = DOCKERFILE.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    names = {re.split(r"[\s<>=!~\[;]", line, maxsplit=1)[0].lower() for line in out.split()}
    assert {"dash", "celery", "redis", "gunicorn", "flower", "jsonschema", "huggingface_hub"} <= names
    assert not names & {"torch", "transformers", "captum", "tokenizers"}


def test_dockerignore_keeps_the_venv_out() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "tests"} <= set(ignored)
