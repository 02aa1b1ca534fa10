"""Start the deployment's real processes locally: redis-server, `interpboard worker`, gunicorn, flower.

The same commands docker-compose.yml runs (read from it by `compose_command`, or with test-sized
workers and threads in `start_web` / `start_worker`), each in its own process group with its output
in a log file. Used by tests/deploy and benchmarks/{load,cold_overhead,faults}.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], bool], timeout: float, what: str, service: Service | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service is not None and service.process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited with {service.process.returncode} while waiting for {what}:\n{service.logs()[-3000:]}"
            )
        try:
            if check():
                return
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.2)
    tail = f":\n{service.logs()[-3000:]}" if service is not None else ""
    raise TimeoutError(f"{what} not ready after {timeout} s{tail}")


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group (a Celery parent and its pool children alike)."""
        self.signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        self.kill()


def start(name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None) -> Service:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Service(name, process, log)


def stack_env(broker: str | None, cache: str, models: str | os.PathLike, **extra: str) -> dict[str, str]:
    env = {
        "INTERPBOARD_CACHE": cache,
        "INTERPBOARD_MODELS": str(models),
        "INTERPBOARD_BROKER": broker or "",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        # Two shared cores on the dev machines: one torch thread per worker process.
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    return env | extra


# --- docker-compose.yml, read the way `docker compose` reads it ---------------------------------------


def compose_services() -> dict:
    import yaml

    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


_INNERMOST = re.compile(r"\$\{(\w+)(?::-([^${}]*))?\}")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` (nested, innermost first) and `$$` on one string."""
    text = str(value).replace("$$", "\0")
    while (new := _INNERMOST.sub(lambda m: env.get(m[1]) or m[2] or "", text)) != text:
        text = new
    assert "${" not in text, f"interpolation this helper does not know: {value!r}"
    return text.replace("\0", "$")


def compose_command(service: str, env: Mapping[str, str] = {}) -> list[str]:
    """A service's command as compose runs it: interpolated, a string split like a shell would."""
    raw = compose_services()[service]["command"]
    return shlex.split(interpolate(raw, env)) if isinstance(raw, str) else [interpolate(a, env) for a in raw]


def compose_environment(service: str, env: Mapping[str, str] = {}) -> dict[str, str]:
    return {k: interpolate(v, env) for k, v in (compose_services()[service].get("environment") or {}).items()}


def compose_healthcheck(service: str, env: Mapping[str, str] = {}) -> str:
    """The healthcheck test as a shell command line."""
    kind, *argv = compose_services()[service]["healthcheck"]["test"]
    argv = [interpolate(a, env) for a in argv]
    return argv[0] if kind == "CMD-SHELL" else shlex.join(argv)


def start_compose_redis(service: str, log_dir: Path, port: int, env: Mapping[str, str] = {}) -> Service:
    """The compose file's redis-server command for `service`, on 127.0.0.1:`port` with its data in `log_dir`."""
    data = log_dir / f"{service}-data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [*compose_command(service, env), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)]
    redis = start(service, argv, log_dir)
    wait_for(lambda: "Ready to accept connections" in redis.logs(), 20, service, redis)
    return redis


def start_redis(
    log_dir: Path, port: int, *options: str, password: str | None = None, name: str = "redis"
) -> Service:
    """A private redis-server (never the shared one on 6379), with an append-only file like the broker's."""
    data = log_dir / f"{name}-data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--dir",
        str(data),
        "--maxmemory-policy",
        "noeviction",
        *options,
    ]
    if password:
        argv += ["--requirepass", password]
    service = start(name, argv, log_dir)
    # A ping, not the log: a restart on the same directory appends to a log that already says "Ready".
    wait_for(lambda: _pings(port, password), 20, name, service)
    return service


def _pings(port: int, password: str | None) -> bool:
    import redis

    with redis.Redis(port=port, password=password, socket_timeout=1) as client:
        return bool(client.ping())


def start_worker(
    log_dir: Path, env: dict[str, str], queues: str = "cpu", concurrency: int = 1, name: str = "worker"
) -> Service:
    argv = [
        sys.executable,
        "-m",
        "dashapp.cli",
        "worker",
        "--queues",
        queues,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "info",
    ]
    service = start(name, argv, log_dir, env)
    wait_for(lambda: " ready." in service.logs(), 120, name, service)
    return service


def start_web(log_dir: Path, env: dict[str, str], port: int, workers: int = 2, name: str = "web") -> Service:
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "dashapp.wsgi:server",
        "--config",
        "python:dashapp.gunicorn_conf",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "120",
    ]
    service = start(name, argv, log_dir, env)
    wait_for(
        lambda: requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code in (200, 503),
        120,
        name,
        service,
    )
    return service


NGINX_CONF = REPO_ROOT / "deploy" / "nginx.conf"
NGINX = "/usr/sbin/nginx"  # Debian's nginx-light (make system-deps)


def start_proxy(log_dir: Path, port: int, web_port: int, name: str = "proxy") -> Service:
    """deploy/nginx.conf, as compose runs it, in front of the web on `web_port`: only the addresses differ."""
    text = NGINX_CONF.read_text()
    for old, new in (
        ("server web:8050;", f"server 127.0.0.1:{web_port};"),
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
        ("/tmp/interpboard-nginx-", f"{log_dir}/{name}-temp-"),
    ):
        assert old in text, f"deploy/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    log_dir.mkdir(parents=True, exist_ok=True)
    conf = log_dir / f"{name}.conf"
    conf.write_text(text)
    argv = [NGINX, "-e", "stderr", "-p", str(log_dir), "-c", str(conf)]
    argv += ["-g", f"daemon off; pid {log_dir}/{name}.pid;"]
    service = start(name, argv, log_dir)
    wait_for(
        lambda: requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code in (200, 503),
        30,
        name,
        service,
    )
    return service


def slow_clients(base: str, count: int, stop: threading.Event, body: bool = False) -> list[threading.Thread]:
    """Connections that send their headers (or a promised body) one line a second, as a slow-loris does."""
    host, port = base.removeprefix("http://").split(":")

    def trickle() -> None:
        with socket.create_connection((host, int(port)), timeout=30) as conn:
            if body:
                conn.sendall(b"POST /api/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
                conn.sendall(b"Content-Length: 100000\r\n\r\n{")
            else:
                conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
            while not stop.wait(1):
                try:
                    conn.sendall(b" " if body else b"X-Slow: 1\r\n")
                except OSError:
                    return

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def probe_success(base: str, probes: int = 15, timeout: float = 3) -> float:
    ok = 0
    for _ in range(probes):
        with contextlib.suppress(requests.RequestException):
            ok += requests.get(f"{base}/api/health", timeout=timeout).status_code == 200
        time.sleep(0.2)
    return ok / probes


def wait_job(base: str, job_id: str, timeout: float = 180, session: requests.Session | None = None) -> dict:
    """Poll GET /api/jobs/<id> until the job ends; its last status."""
    http = session or requests
    status: dict = {}

    def finished() -> bool:
        nonlocal status
        response = http.get(f"{base}/api/jobs/{job_id}", timeout=10)
        status = response.json() if response.status_code == 200 else {}
        return status.get("state") in ("done", "error", "cancelled")

    wait_for(finished, timeout, f"job {job_id} to end")
    return status


@dataclass
class Stack:
    base: str  # the web's URL
    env: dict[str, str]
    root: Path
    redis_port: int
    services: dict[str, Service]

    def restart_redis(self) -> None:
        self.services["redis"] = start_redis(self.root, self.redis_port)


@contextmanager
def local_stack(
    root: Path, *, web_workers: int = 4, worker_concurrency: int = 1, **env: str
) -> Iterator[Stack]:
    """docker-compose.yml on this machine: a private redis-server (broker on DB 0, cache on DB 1, never the
    shared 6379), tiny models, one `interpboard worker` and gunicorn; all stopped afterwards."""
    from tests.tiny_models import build_tiny_models

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # keep benchmark output to its figures
    models = build_tiny_models(root / "models")
    redis_port, web_port = free_port(), free_port()
    stack = Stack(f"http://127.0.0.1:{web_port}", {}, root, redis_port, {})
    try:
        stack.services["redis"] = start_redis(root, redis_port)
        redis_url = f"redis://127.0.0.1:{redis_port}"
        stack.env = stack_env(f"{redis_url}/0", f"{redis_url}/1", models, **env)
        stack.services["worker"] = start_worker(root, stack.env, concurrency=worker_concurrency)
        stack.services["web"] = start_web(root, stack.env, web_port, workers=web_workers)
        yield stack
    finally:
        for service in reversed(list(stack.services.values())):
            service.stop()
