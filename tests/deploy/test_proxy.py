"""deploy/nginx.conf with the real nginx binary in front of real gunicorn: slow clients, limits, JSON errors."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.deploy.stack import (
    NGINX,
    free_port,
    probe_success,
    slow_clients,
    stack_env,
    start_proxy,
    start_web,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.processes,
    pytest.mark.skipif(shutil.which(NGINX) is None, reason="nginx is not installed (make system-deps)"),
]


@pytest.fixture(scope="module")
def proxied(tiny_registry, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """(the proxy's URL, gunicorn's own URL): one gunicorn worker of 4 threads, as small as it gets."""
    root = tmp_path_factory.mktemp("proxy")
    env = stack_env(None, str(root / "results"), tiny_registry, INTERPBOARD_PROXY_HOPS="1")
    web_port, proxy_port = free_port(), free_port()
    web = start_web(root, env, web_port, workers=1)
    try:
        proxy = start_proxy(root, proxy_port, web_port)
        try:
            yield f"http://127.0.0.1:{proxy_port}", f"http://127.0.0.1:{web_port}"
        finally:
            proxy.stop()
    finally:
        web.stop()


@pytest.mark.parametrize("body", [False, True], ids=["slow headers", "promised body"])
def test_slow_clients_do_not_starve_health_probes_behind_the_proxy(proxied, body) -> None:
    proxy, _ = proxied
    stop = threading.Event()
    threads = slow_clients(proxy, 32, stop, body=body)
    try:
        time.sleep(1)
        assert probe_success(proxy) == 1.0
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)


def test_a_stalled_client_is_cut_off_by_the_proxy(proxied) -> None:
    proxy, _ = proxied
    host, port = proxy.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # and never the end of the headers
        started = time.monotonic()
        try:
            answer = conn.recv(1024)
        except ConnectionResetError:  # reset_timedout_connection: dropped, not politely closed
            answer = b""
        assert answer == b""  # no answer: cut off at client_header_timeout
        assert 5 < time.monotonic() - started < 15


def test_what_the_proxy_refuses_itself_is_json(proxied) -> None:
    proxy, _ = proxied
    too_big = requests.post(f"{proxy}/api/analyses", data=b"x" * 400_000, timeout=10)
    assert too_big.status_code == 413 and too_big.json()["error"]
    long_for_the_app = requests.get(f"{proxy}/api/" + "x" * 5000, timeout=10)
    assert long_for_the_app.status_code == 414 and long_for_the_app.json()["error"]
    long_for_nginx = requests.get(f"{proxy}/api/" + "x" * 20_000, timeout=10)
    assert long_for_nginx.status_code == 414 and long_for_nginx.json()["error"]


def test_the_conf_is_what_compose_mounts() -> None:
    import yaml

    from tests.conftest import REPO_ROOT

    proxy = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]["proxy"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert Path(REPO_ROOT / "deploy" / "nginx.conf").is_file()
