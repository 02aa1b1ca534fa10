"""The JSON API end to end on a Flask test client, with the embedded executor doing real work."""

from __future__ import annotations

import io
import time

import numpy as np
import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from dashapp.api import register_api
from dashapp.openapi import openapi_document
from tests.deploy.bad_inputs import BAD_INPUTS, BadInput
from tests.deploy.stack import free_port
from workers.executor import EmbeddedExecutor
from workers.settings import Settings

SST = {
    "model": "tiny-bert-sst",
    "task": "sst",
    "text": "the movie was great",
    "methods": ["grad_norm", "attention_rollout", "attention_sensitivity"],
}

# Only the worker knows the model's length limit: the web lets this through, the job fails (an input error).
BEYOND_MAX_LENGTH = {"model": "tiny-bert-mlm", "task": "mlm", "text": "the " * 600 + "[MASK] ."}


@pytest.fixture
def executor(tiny_registry, tmp_path):
    executor = EmbeddedExecutor(Settings(broker=None, cache=str(tmp_path / "results")))
    yield executor
    executor.close()


@pytest.fixture
def client(executor) -> FlaskClient:
    server = Flask("api-test")
    register_api(server, lambda: executor)
    return server.test_client()


def wait_done(client: FlaskClient, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s")


def submit_and_wait(client: FlaskClient, payload: dict) -> str:
    submitted = client.post("/api/analyses", json=payload)
    assert submitted.status_code in (200, 202), submitted.json
    if submitted.status_code == 202:
        assert wait_done(client, submitted.json["job_id"])["state"] == "done"
    return submitted.json["key"]


def test_health(client: FlaskClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "ok"
    assert set(response.json["checks"]) == {"web", "broker", "cache"}


def test_models(client: FlaskClient) -> None:
    models = {m["id"]: m for m in client.get("/api/models").json["models"]}
    assert models["tiny-bert-sst"]["available"] and models["tiny-bert-sst"]["tasks"] == ["sst"]
    assert models["tiny-gpt2"]["tasks"] == ["causal-lm"] and "detail" in models["tiny-gpt2"]


def test_submit_poll_read_round_trip(client: FlaskClient) -> None:
    submitted = client.post("/api/analyses", json=SST)
    assert submitted.status_code == 202
    body = submitted.json
    assert body["cached"] is False and body["status"] in ("queued", "running") and body["job_id"]
    location = submitted.headers["Location"]
    assert location == f"/api/analyses/{body['key']}?job={body['job_id']}"

    pending = client.get(location)
    assert pending.status_code in (200, 202)
    if pending.status_code == 202:
        assert pending.json["job"]["job_id"] == body["job_id"]
    by_key = client.get(f"/api/analyses/{body['key']}")  # a teammate's link carries no job id
    assert by_key.status_code in (200, 202)
    if by_key.status_code == 202:
        assert by_key.json["job"]["job_id"] == body["job_id"]

    job = wait_done(client, body["job_id"])
    assert job["state"] == "done" and job["progress"] == 1.0 and job["key"] == body["key"]

    result = client.get(location)
    assert result.status_code == 200
    analysis = result.json
    assert analysis["key"] == body["key"] and analysis["status"] == "done"
    assert analysis["model"] == "tiny-bert-sst" and analysis["tokens"][0] == "[CLS]"
    assert {p["label"] for p in analysis["predictions"]} == {"negative", "positive"}
    assert len(analysis["saliency"]["grad_norm"]) == len(analysis["tokens"])
    assert analysis["compute_seconds"] > 0 and analysis["worker"]
    assert "attention" not in analysis

    again = client.post("/api/analyses", json=SST)
    assert again.status_code == 200
    assert again.json == {"key": body["key"], "status": "done", "job_id": None, "cached": True}


def test_full_arrays_and_npz(client: FlaskClient) -> None:
    key = submit_and_wait(client, SST)
    full = client.get(f"/api/analyses/{key}?full=1").json
    n = len(full["tokens"])
    attention = np.asarray(full["attention"])
    assert attention.shape == (3, 4, n, n)  # tiny models: 3 layers, 4 heads
    assert np.allclose(attention.sum(-1), 1, atol=1e-2)
    assert np.asarray(full["attention_sensitivity"]).shape == (3, n, n)

    download = client.get(f"/api/analyses/{key}.npz")
    assert download.status_code == 200
    assert f"{key}.npz" in download.headers["Content-Disposition"]
    arrays = np.load(io.BytesIO(download.data), allow_pickle=False)
    assert arrays["attention"].shape == (3, 4, n, n)
    assert arrays["saliency.grad_norm"].shape == (n,)
    assert list(arrays["tokens"]) == full["tokens"]  # the Analyze page's .npz download has the same contents


def test_history_index_filters_and_delete(client: FlaskClient) -> None:
    first = submit_and_wait(client, SST)
    second = submit_and_wait(client, {**SST, "text": "nobody liked the food"})
    listing = client.get("/api/analyses").json
    assert [row["key"] for row in listing["items"]] == [second, first]  # newest first
    assert listing["total"] == 2 and listing["limit"] == 50 and listing["offset"] == 0
    assert [r["key"] for r in client.get("/api/analyses?q=FOOD").json["items"]] == [second]
    assert client.get("/api/analyses?model=tiny-bert-mlm").json["total"] == 0
    assert [r["key"] for r in client.get("/api/analyses?limit=1&offset=1").json["items"]] == [first]

    deleted = client.delete(f"/api/analyses/{first}")
    assert deleted.status_code == 200 and deleted.json == {"key": first, "deleted": True}
    assert client.get(f"/api/analyses/{first}").status_code == 404
    assert client.get("/api/analyses").json["total"] == 1


def test_cancel_a_queued_job(client: FlaskClient) -> None:
    # One embedded thread: the first job occupies it, the second waits in the queue.
    slow = {
        "model": "tiny-bert-sst",
        "task": "sst",
        "text": "the quick brown fox jumps over the lazy dog " * 6,
        "methods": ["integrated_gradients", "attention_sensitivity"],
        "ig_steps": 1000,
    }
    running = client.post("/api/analyses", json=slow).json
    queued = client.post("/api/analyses", json={**slow, "text": "paris is the capital of france " * 8}).json
    status = client.get(f"/api/jobs/{queued['job_id']}").json
    assert status["state"] == "queued" and status["queue_position"] >= 1

    cancelled = client.delete(f"/api/jobs/{queued['job_id']}")
    assert cancelled.status_code == 200
    assert cancelled.json["cancelled"] is True and cancelled.json["job"]["state"] == "cancelled"
    assert client.delete(f"/api/jobs/{queued['job_id']}").json["cancelled"] is False  # already over

    assert client.delete(f"/api/jobs/{running['job_id']}").json["cancelled"] is True
    assert wait_done(client, running["job_id"])["state"] == "cancelled"
    assert client.get(f"/api/analyses/{running['key']}").status_code == 404


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=lambda b: b.name)
def test_bad_input_is_a_clear_4xx(client: FlaskClient, bad: BadInput) -> None:
    response = client.open(bad.path, method=bad.method, data=bad.body, content_type=bad.content_type)
    assert response.status_code == bad.status, response.data[:300]
    assert response.mimetype == "application/json"
    assert (
        isinstance(response.json["error"], str) and 10 < len(response.json["error"]) < 1000
    )  # never echoes a huge value


def test_chunked_body_over_the_limit_is_413(client: FlaskClient) -> None:
    """No Content-Length (chunked, as gunicorn passes it on): cut at the limit and refused, not parsed as truncated JSON."""

    def chunked(body: bytes) -> dict:
        return dict(
            input_stream=io.BytesIO(body),
            content_type="application/json",
            headers={"Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )

    big = orjson.dumps({**SST, "text": "x" * 300_000})
    response = client.post("/api/analyses", **chunked(big))
    assert response.status_code == 413 and "larger than 256 KiB" in response.json["error"]
    small = client.post("/api/analyses", **chunked(orjson.dumps({**SST, "top_k": 0})))
    assert small.status_code == 400 and "top_k" in small.json["error"]  # a small chunked body is read whole


def test_bad_inputs_leave_nothing_behind(client: FlaskClient) -> None:
    assert len(BAD_INPUTS) >= 30
    for bad in BAD_INPUTS:
        client.open(bad.path, method=bad.method, data=bad.body, content_type=bad.content_type)
    assert client.get("/api/analyses").json["total"] == 0
    assert client.get("/api/health").status_code == 200


def test_engine_failure_is_a_job_error_not_a_crash(client: FlaskClient) -> None:
    """Valid on its face, impossible for the model: the job ends in error, nothing is cached."""
    submitted = client.post("/api/analyses", json=BEYOND_MAX_LENGTH).json
    job = wait_done(client, submitted["job_id"])
    assert job["state"] == "error" and job["error"]
    failed = client.get(f"/api/analyses/{submitted['key']}?job={submitted['job_id']}")
    assert failed.status_code == 404 and job["error"] in failed.json["error"]
    assert client.get("/api/health").status_code == 200


def test_unreachable_cache_is_503_not_500(tiny_registry) -> None:
    executor = EmbeddedExecutor(Settings(broker=None, cache=f"redis://:secret@127.0.0.1:{free_port()}/0"))
    server = Flask("api-down")
    register_api(server, lambda: executor)
    client = server.test_client()
    try:
        health = client.get("/api/health")
        assert health.status_code == 503 and health.json["checks"]["cache"]["ok"] is False
        for response in (
            client.post("/api/analyses", json=SST),
            client.get("/api/analyses"),
            client.get(f"/api/analyses/{'a' * 64}"),
        ):
            assert response.status_code == 503, response.json
            assert "unreachable" in response.json["error"]
        assert b"secret" not in health.data
    finally:
        executor.close()


def test_mounted_on_the_dash_app_with_auth(executor, monkeypatch) -> None:
    from dashapp.app import create_app

    monkeypatch.setenv("INTERPBOARD_TOKEN", "team-token")
    client = create_app(executor=executor).server.test_client()
    assert client.get("/api/health").status_code == 200  # open for health checks
    for path in ("/api/everything", "/api", "/api/"):
        unknown = client.get(path, headers={"Authorization": "Bearer team-token"})
        assert unknown.status_code == 404 and unknown.json["error"], (
            path
        )  # not the Dash pages' HTML catch-all
    assert client.get("/api").status_code == 401 and client.get("/api").json["error"]
    assert client.get("/").status_code == 401
    assert client.get("/api/models").status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer team-token"}).status_code == 200
    assert (
        client.post("/api/analyses", json=SST, headers={"Authorization": "Bearer team-token"}).status_code
        == 202
    )


def _documented(method: str, path: str, response) -> None:
    """The status is one the OpenAPI document lists for this operation, and the JSON body fits its schema."""
    document = openapi_document()
    operation = document["paths"][path][method.lower()]
    assert str(response.status_code) in operation["responses"], (method, path, response.status_code)
    content = operation["responses"][str(response.status_code)].get("content", {})
    if "application/json" in content:
        schema = {**content["application/json"]["schema"], "components": document["components"]}
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(response.json)]
        assert not errors, (method, path, response.status_code, errors[:3])
    else:
        assert response.mimetype in content, (method, path, response.mimetype)


def test_parts_are_listed_and_asked_for(tiny_budget, client: FlaskClient) -> None:
    key = submit_and_wait(client, SST)
    analysis = client.get(f"/api/analyses/{key}").json
    parts = analysis["parts"]
    assert parts["core"]["state"] == "done" and parts["sensitivity.1"]["state"] == "offered"
    assert parts["sensitivity.1"]["estimate_s"] > 0
    _documented("GET", "/api/analyses/{key}", client.get(f"/api/analyses/{key}"))
    asked = client.post(f"/api/analyses/{key}/parts", json={"parts": ["sensitivity.1"]})
    _documented("POST", "/api/analyses/{key}/parts", asked)
    assert asked.status_code == 202 and len(asked.json["jobs"]) == 1
    assert asked.json["parts"]["sensitivity.1"]["state"] in ("queued", "running", "done")
    assert wait_done(client, asked.json["jobs"][0])["state"] == "done"
    after = client.get(f"/api/analyses/{key}?full=1").json
    assert after["parts"]["sensitivity.1"]["state"] == "done"
    assert (
        after["attention_sensitivity"][1][0][0] is not None
        and after["attention_sensitivity"][0][0][0] is None
    )
    again = client.post(f"/api/analyses/{key}/parts", json={"parts": ["sensitivity.1"]})
    assert again.status_code == 200 and again.json["jobs"] == []
    for body, status in (({"parts": ["sensitivity.9"]}, 400), ({"parts": "x"}, 400), ({}, 400)):
        answer = client.post(f"/api/analyses/{key}/parts", json=body)
        assert answer.status_code == status, answer.json
        _documented("POST", "/api/analyses/{key}/parts", answer)
    missing = client.post(f"/api/analyses/{'0' * 64}/parts", json={"parts": ["sensitivity.1"]})
    assert missing.status_code == 404
    _documented("POST", "/api/analyses/{key}/parts", missing)


def test_answers_match_the_openapi_document(client: FlaskClient) -> None:
    key_path, npz_path, job_path = "/api/analyses/{key}", "/api/analyses/{key}.npz", "/api/jobs/{job_id}"
    _documented("GET", "/api/health", client.get("/api/health"))
    _documented("GET", "/api/models", client.get("/api/models"))
    submitted = client.post("/api/analyses", json=SST)
    _documented("POST", "/api/analyses", submitted)
    body = submitted.json
    _documented("GET", job_path, client.get(f"/api/jobs/{body['job_id']}"))
    _documented("GET", key_path, client.get(submitted.headers["Location"]))  # 202 or, if fast, 200
    wait_done(client, body["job_id"])
    _documented("GET", key_path, client.get(f"/api/analyses/{body['key']}"))
    _documented("GET", key_path, client.get(f"/api/analyses/{body['key']}?full=1"))
    _documented("GET", npz_path, client.get(f"/api/analyses/{body['key']}.npz"))
    sequences = (  # answers shaped per target token (seq2seq) and per generated step (generation)
        {"model": "tiny-bart", "task": "seq2seq", "text": "the cat sat on the mat", "methods": ["grad_norm"]},
        {
            "model": "tiny-gpt2",
            "task": "causal-lm",
            "text": "the cat",
            "generate": 3,
            "methods": ["grad_norm"],
        },
    )
    for request in sequences:
        sequence = client.post("/api/analyses", json=request).json
        wait_done(client, sequence["job_id"])
        for query in ("", "?full=1"):
            _documented("GET", key_path, client.get(f"/api/analyses/{sequence['key']}{query}"))
    _documented("POST", "/api/analyses", client.post("/api/analyses", json=SST))  # 200, cached
    _documented("GET", "/api/analyses", client.get("/api/analyses?q=movie"))
    _documented("DELETE", job_path, client.delete(f"/api/jobs/{body['job_id']}"))
    _documented("DELETE", key_path, client.delete(f"/api/analyses/{body['key']}"))
    failed = client.post("/api/analyses", json=BEYOND_MAX_LENGTH).json
    _documented("GET", job_path, client.get(f"/api/jobs/{failed['job_id']}"))
    wait_done(client, failed["job_id"])
    _documented("GET", job_path, client.get(f"/api/jobs/{failed['job_id']}"))  # state error, error_kind input
    _documented("GET", key_path, client.get(f"/api/analyses/{failed['key']}?job={failed['job_id']}"))  # 404
    for bad in BAD_INPUTS:  # every error status of a documented route is documented too
        path = bad.path.split("?")[0]
        template = (
            "/api/analyses"
            if path == "/api/analyses"
            else npz_path
            if path.endswith(".npz")
            else key_path
            if path.startswith("/api/analyses/")
            else job_path
            if path.startswith("/api/jobs/")
            else None
        )
        if template is not None and bad.status != 405:
            _documented(
                bad.method,
                template,
                client.open(bad.path, method=bad.method, data=bad.body, content_type=bad.content_type),
            )


def test_a_flooding_client_gets_429_with_retry_after_and_others_still_get_in(tiny_registry, tmp_path) -> None:
    executor = EmbeddedExecutor(
        Settings(broker=None, cache=str(tmp_path / "results"), max_queued_per_client=2)
    )
    server = Flask("flood-test")
    register_api(server, lambda: executor)
    flooder, other = server.test_client(), server.test_client()
    flooder.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    other.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    try:
        answers = [flooder.post("/api/analyses", json={**SST, "text": f"flood number {i}"}) for i in range(4)]
        assert [a.status_code for a in answers[:2]] == [202, 202]
        refused = answers[2]
        assert (
            refused.status_code == 429
            and refused.is_json
            and "2 jobs waiting or running" in refused.json["error"]
        )
        assert int(refused.headers["Retry-After"]) > 0
        assert other.post("/api/analyses", json={**SST, "text": "someone else"}).status_code == 202
        assert executor.status(answers[0].json["job_id"]).client == "addr:10.0.0.1"
    finally:
        executor.close()


def test_null_body_names_the_json_type() -> None:
    server = Flask("types-test")
    register_api(server, lambda: pytest.fail("not needed"))
    answer = server.test_client().post("/api/analyses", data="null", content_type="application/json")
    assert (
        answer.status_code == 400
        and "not null" in answer.json["error"]
        and "NoneType" not in answer.json["error"]
    )
