"""docker-compose.yml and the Dockerfile, checked without a Docker engine (none runs here)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest
import redis
import yaml

from tests.conftest import REPO_ROOT
from tests.deploy.stack import (
    Service,
    compose_command,
    compose_environment,
    compose_healthcheck,
    free_port,
    start_compose_redis,
)

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def command(service: str) -> list[str]:
    raw = SERVICES[service]["command"]
    return shlex.split(raw) if isinstance(raw, str) else raw


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_services() -> None:
    assert set(SERVICES) == {"redis-broker", "redis-cache", "proxy", "web", "worker", "worker-gpu", "flower"}


def test_only_the_proxy_and_loopback_flower_are_published() -> None:
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    assert published == {"proxy", "flower"} and "ports" not in SERVICES["web"]
    assert SERVICES["web"]["environment"]["INTERPBOARD_PROXY_HOPS"] == "1"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_service_has_a_healthcheck(service: str) -> None:
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL")
    probe = " ".join(test[1:])
    expected = {
        "redis-broker": "redis-cli ping | grep -q PONG",
        "redis-cache": "redis-cli ping | grep -q PONG",
        "web": "/api/health",
        "proxy": "/api/health",
        "worker": "inspect ping",
        "worker-gpu": "inspect ping",
        "flower": "/healthcheck",
    }[service]
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
    assert option(argv, "--config") == "python:dashapp.gunicorn_conf"  # the open-without-auth warning hook
    assert int(option(argv, "--workers")) >= 2
    assert option(argv, "--worker-class") == "gthread" and int(option(argv, "--threads")) > 1  # keep-alive
    assert option(argv, "--bind") == "0.0.0.0:8050" == SERVICES["web"]["environment"]["INTERPBOARD_BIND"]


def test_web_access_log_keeps_secrets_out() -> None:
    """A `?token=` link, or a History search, must not land in the log: the path only, no query, no Referer."""
    argv = command("web")
    assert option(argv, "--access-logfile") == "-"
    atoms = set(re.findall(r"%\((\w)\)s", option(argv, "--access-logformat")))
    assert "U" in atoms and not atoms & {"r", "q", "f"}


def test_web_image_default_command_is_the_compose_one() -> None:
    web = DOCKERFILE.split("AS web", 1)[1].split("AS worker", 1)[0]
    cmd = re.search(r"^CMD (\[.*?\])$", web.replace("\\\n", ""), re.MULTILINE | re.DOTALL)[1]
    assert json.loads(cmd) == command("web")


def test_workers_listen_on_their_queues() -> None:
    cpu, gpu = command("worker"), command("worker-gpu")
    assert cpu[:2] == gpu[:2] == ["interpboard", "worker"]
    assert option(cpu, "--queues") == "cpu" and int(option(cpu, "--concurrency")) >= 1
    assert option(gpu, "--queues") == "gpu"
    assert SERVICES["worker"]["environment"]["INTERPBOARD_DEVICE"] == "cpu"
    assert SERVICES["worker-gpu"]["environment"]["INTERPBOARD_DEVICE"] == "cuda"


@pytest.mark.parametrize("service", ["worker", "worker-gpu"])
def test_workers_may_finish_their_longest_job_when_stopped(service: str) -> None:
    from workers.settings import Settings

    grace = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", SERVICES[service]["stop_grace_period"])
    seconds = int(grace[1] or 0) * 60 + int(grace[2] or 0)
    limit = int(compose_environment(service)["INTERPBOARD_JOB_TIME_LIMIT"])
    assert seconds >= Settings(job_time_limit=limit, broker=None).hard_time_limit


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
    assert compose_environment("flower")["INTERPBOARD_BROKER"].endswith("@redis-broker:6379/0")


def test_flower_without_a_login_is_published_on_loopback_only() -> None:
    (port,) = SERVICES["flower"]["ports"]
    assert port.startswith("${INTERPBOARD_FLOWER_BIND:-127.0.0.1}:")
    assert "--basic-auth" not in SERVICES["flower"]["command"]


def test_one_redis_password_for_both_instances_and_every_url() -> None:
    env = {"INTERPBOARD_REDIS_PASSWORD": "0123abcd"}
    for name in ("redis-broker", "redis-cache"):
        assert option(compose_command(name, env), "--requirepass") == "0123abcd"
        assert (
            compose_environment(name, env)["REDISCLI_AUTH"] == "0123abcd"
        )  # for the healthcheck's redis-cli
    for name in ("web", "worker", "worker-gpu", "flower"):
        urls = compose_environment(name, env)
        assert urls["INTERPBOARD_BROKER"] == "redis://:0123abcd@redis-broker:6379/0"
        assert urls["INTERPBOARD_CACHE"] == "redis://:0123abcd@redis-cache:6379/0"
    # No password: still one redis-server argument (an empty one), and URLs without a password.
    assert option(compose_command("redis-broker"), "--requirepass") == ""
    assert (
        compose_environment("web", {"INTERPBOARD_CACHE": "/data/results"})["INTERPBOARD_CACHE"]
        == "/data/results"
    )


def test_every_compose_variable_is_documented() -> None:
    """What an operator may set for compose (shell or .env) is in docs/deploy.md or the README."""
    docs = (REPO_ROOT / "docs" / "deploy.md").read_text() + (REPO_ROOT / "README.md").read_text()
    variables = set(re.findall(r"\$\{(\w+)", (REPO_ROOT / "docker-compose.yml").read_text()))
    assert {"INTERPBOARD_REDIS_PASSWORD", "INTERPBOARD_TOKEN", "INTERPBOARD_PORT"} <= variables
    assert not sorted(v for v in variables if f"`{v}`" not in docs)


@pytest.fixture
def redis_services():
    started: list[Service] = []
    yield started
    for service in started:
        service.stop()


@pytest.mark.parametrize("password", ["", "s3cret-0123"])
def test_redis_commands_and_healthchecks_for_real(password: str, tmp_path, redis_services) -> None:
    """Both Redis commands of the compose file run as they are, with their policies, and their healthchecks tell
    a healthy instance (PONG) from one that refuses them (wrong password) or is gone."""
    env = {"INTERPBOARD_REDIS_PASSWORD": password}
    expected = {
        "redis-broker": {"maxmemory-policy": "noeviction", "appendonly": "yes"},
        "redis-cache": {"maxmemory-policy": "allkeys-lru", "maxmemory": str(2 * 2**30)},
    }
    for name, config in expected.items():
        port = free_port()
        redis_services.append(server := start_compose_redis(name, tmp_path, port, env))
        client = redis.Redis(port=port, password=password or None)
        for key, value in config.items():
            assert client.config_get(key)[key] == value, (name, key)
        if password:
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(port=port).ping()
        probe = compose_healthcheck(name, env).replace("redis-cli", f"redis-cli -p {port}", 1)

        def healthy(auth: str, name: str = name, probe: str = probe) -> bool:
            probe_env = {**os.environ, **compose_environment(name, env), "REDISCLI_AUTH": auth}
            return (
                subprocess.run(["sh", "-c", probe], env=probe_env, capture_output=True, timeout=30).returncode
                == 0
            )

        assert healthy(compose_environment(name, env)["REDISCLI_AUTH"]), name
        if password:
            assert not healthy("wrong-password"), name
        server.stop()
        assert not healthy(compose_environment(name, env)["REDISCLI_AUTH"]), name


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
    assert '--index-url "$TORCH_INDEX"' in worker and "whl/cpu" in worker
    assert "curl" in DOCKERFILE  # the web and flower healthchecks use it


def test_web_image_requirements_exclude_the_engine() -> None:
    """Run the Dockerfile's own requirement filter against pyproject.toml."""
    script = DOCKERFILE.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    names = {re.split(r"[\s<>=!~\[;]", line, maxsplit=1)[0].lower() for line in out.split()}
    assert {"dash", "celery", "redis", "gunicorn", "flower", "jsonschema", "huggingface_hub"} <= names
    assert not names & {"torch", "transformers", "captum"}
    assert "tokenizers" in names  # torch-free: the web checks requests with a model's tokenizer.json


def test_dockerignore_keeps_the_venv_out() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "tests"} <= set(ignored)
