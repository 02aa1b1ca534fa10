"""The web's edges on the real Dash app: Dash's own routes, long addresses, CSV cells, proxied addresses."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from dashapp.app import create_app
from dashapp.exports import FORMULA_STARTS, to_csv
from interp.settings import settings
from tests.dashapp.synthetic import synthetic_analysis
from workers.executor import EmbeddedExecutor
from workers.settings import Settings


@pytest.fixture(scope="module")
def client(tiny_registry, tmp_path_factory):
    executor = EmbeddedExecutor(Settings(broker=None, cache=str(tmp_path_factory.mktemp("edges"))))
    yield create_app(executor=executor).server.test_client()
    executor.close()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"null",
        b"[]",
        b'{"output": "nope.children"}',
        b'{"output": 3, "inputs": []}',
        b'{"output": "theme.data", "inputs": "x"}',
    ],
)
def test_malformed_dash_callback_requests_are_400_json(client, body):
    answer = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert answer.status_code == 400 and answer.is_json and "malformed" in answer.json["error"]


@pytest.mark.parametrize(
    "path", ["/_dash-component-suites/os/path.py", "/_dash-component-suites/dash/../x.js"]
)
def test_unknown_component_files_are_404_not_500(client, path):
    answer = client.get(path)
    assert answer.status_code == 404 and b"Traceback" not in answer.data


@pytest.mark.parametrize("prefix", ["/api/", "/analyze/"])
def test_a_very_long_address_is_414(client, prefix):
    answer = client.get(prefix + "x" * 5000)
    assert answer.status_code == 414
    assert answer.is_json == prefix.startswith("/api")


def test_csv_cells_cannot_be_formulas():
    analysis = synthetic_analysis()
    tokens = ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", *analysis.tokens[4:]]
    analysis = replace(analysis, tokens=tokens, predictions=[{**analysis.predictions[0], "label": "=cmd"}])
    rows = list(csv.reader(io.StringIO(to_csv(analysis))))
    header = rows[0]
    token, piece, first_score = header.index("token"), header.index("piece"), header.index("special") + 1
    assert [row[token] for row in rows[1:5]] == ["'=HYPERLINK(1)", "'+1", "'-2", "'@SUM(A1)"]
    assert not any(row[piece].startswith(FORMULA_STARTS) for row in rows[1:5])  # the readable piece too
    assert rows[-1][1] == "'=cmd"
    assert all(
        cell.startswith("-") or cell[0].isdigit() for row in rows[1:5] for cell in row[first_score:]
    )  # numbers stay


def test_behind_a_proxy_the_client_is_the_forwarded_address(tiny_registry, tmp_path, monkeypatch):
    monkeypatch.setenv("INTERPBOARD_PROXY_HOPS", "1")
    settings.cache_clear()
    executor = EmbeddedExecutor(Settings(broker=None, cache=str(tmp_path)))
    try:
        client = create_app(executor=executor).server.test_client()
        client.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # the proxy
        body = {"model": "tiny-bert-sst", "task": "sst", "text": "behind the proxy"}
        answer = client.post("/api/analyses", json=body, headers={"X-Forwarded-For": "203.0.113.7"})
        assert executor.status(answer.json["job_id"]).client == "addr:203.0.113.7"
    finally:
        executor.close()
        settings.cache_clear()
