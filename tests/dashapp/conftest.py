"""Fixtures for the dashboard's end-to-end tests: the real app on a free port, and headless Chromium."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[1] / "output" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--window-size=1280,900",
)


@pytest.fixture
def ex():
    """The job layer as the callback tests drive it: in memory, no worker (tests/dashapp/fakes.py)."""
    from tests.dashapp.fakes import FakeExecutor

    return FakeExecutor()


@pytest.fixture
def services(ex, tiny_registry):
    """Forms name tiny models: the registry must know them whichever test runs first."""
    from dashapp.services import Services

    return Services(ex)


@dataclass
class LiveApp:
    url: str
    executor: Any


@pytest.fixture(scope="module")
def live_app(tiny_registry, tmp_path_factory):
    """The real app (embedded executor, a fresh diskcache) served by werkzeug in a thread."""
    from werkzeug.serving import make_server

    from dashapp.app import create_app
    from workers.executor import EmbeddedExecutor
    from workers.settings import Settings

    executor = EmbeddedExecutor(Settings(cache=str(tmp_path_factory.mktemp("dash-cache")), broker=None))
    server = make_server("127.0.0.1", 0, create_app(executor=executor).server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="dash-test-server", daemon=True)
    thread.start()
    yield LiveApp(f"http://127.0.0.1:{server.server_port}", executor)
    server.shutdown()
    thread.join(timeout=10)
    executor.close()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
