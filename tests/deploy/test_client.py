"""The notebook client against a real server: gunicorn with token and basic auth, the embedded executor."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import requests

from cache import open_store
from dashapp.client import Client, JobFailed, RemoteAnalysis, ServerError
from dashapp.views import HEATMAP, SALIENCY
from interp.schema import Analysis, InputError
from tests.deploy.stack import free_port, stack_env, start_web

pytestmark = [pytest.mark.slow, pytest.mark.processes]

TOKEN, USER, PASSWORD = "team-token", "alice", "wonder-land"
TEXT = "the cat sat on the [MASK] ."


@pytest.fixture(scope="module")
def server(tiny_registry, tmp_path_factory):
    """(URL, cache directory) of one gunicorn worker whose API needs the token or alice's password."""
    root = tmp_path_factory.mktemp("client")
    cache = str(root / "results")
    env = stack_env(
        None, cache, tiny_registry, INTERPBOARD_TOKEN=TOKEN, INTERPBOARD_USERS=f"{USER}:{PASSWORD}"
    )
    port = free_port()
    web = start_web(root, env, port, workers=1)
    try:
        yield f"http://127.0.0.1:{port}", cache
    finally:
        web.stop()


def test_a_notebook_submits_follows_and_gets_numpy_arrays_and_the_pages_figures(server):
    url, cache = server
    client = Client(url, token=TOKEN)
    assert any(m["id"] == "tiny-bert-mlm" and m["available"] for m in client.models())
    seen: list[dict] = []
    analysis = client.analyze(
        "tiny-bert-mlm", "mlm", TEXT, methods=["grad_norm", "attention_rollout"], on_progress=seen.append
    )
    assert seen and seen[-1]["state"] == "done" and seen[-1]["progress"] == 1.0
    assert {s["state"] for s in seen} <= {"queued", "running", "done"}
    assert isinstance(analysis, RemoteAnalysis) and len(analysis.key) == 64
    n = analysis.n_tokens
    assert isinstance(analysis.attention, np.ndarray) and analysis.attention.shape == (3, 4, n, n)
    assert analysis.saliency["grad_norm"].shape == (n,) and analysis.provenance["worker"]

    # the same numbers as the API's own JSON (another path through the server)
    full = requests.get(
        f"{url}/api/analyses/{analysis.key}?full=1", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    full = full.json()
    assert analysis.tokens == full["tokens"] and analysis.predictions == full["predictions"]
    np.testing.assert_allclose(analysis.attention, np.asarray(full["attention"]), atol=1e-5)
    np.testing.assert_allclose(analysis.saliency["grad_norm"], full["saliency"]["grad_norm"], atol=1e-6)
    assert analysis.logit_lens == full["logit_lens"]

    # the figures are the page's: its view builders, on the record the server stored
    stored = open_store(cache).get(analysis.key)
    page = Analysis.from_record(stored.meta, stored.arrays)
    heatmap = analysis.show("heatmap", layer=2, head=1, theme="dark")
    assert isinstance(heatmap, go.Figure) and "layer 2" in heatmap.layout.title.text
    selection = {"layer": 2, "head": 1, "token": None, "method": "integrated_gradients", "step": None}
    assert heatmap.to_plotly_json() == HEATMAP.build(page, selection, "dark").to_plotly_json()
    saliency = analysis.show("saliency", token=3, method="grad_norm")
    expected = SALIENCY.build(
        page, {**selection, "layer": 0, "head": None, "token": 3, "method": "grad_norm"}, "light"
    )
    assert saliency.to_plotly_json() == expected.to_plotly_json()
    graph = analysis.show(
        "attention-graph", layer=99, token=2, top_k=2
    )  # a selection past the model is clamped
    assert "layer 2" in graph.layout.title.text
    with pytest.raises(ValueError, match="heatmap"):
        analysis.show("no-such-view")

    # a teammate with a password reads it by key; cached now, so a second analyze starts no job
    alice = Client(url, user=USER, password=PASSWORD)
    assert alice.get(analysis.key).tokens == analysis.tokens
    quiet: list[dict] = []
    again = alice.analyze(
        "tiny-bert-mlm", "mlm", TEXT, methods=["grad_norm", "attention_rollout"], on_progress=quiet.append
    )
    assert again.key == analysis.key and quiet == []


def test_refusals_are_the_errors_people_expect(server):
    url, _ = server
    with pytest.raises(ServerError) as refused:
        Client(url).models()
    assert refused.value.status == 401 and "authentication required" in refused.value.message
    with pytest.raises(ServerError, match="401"):
        Client(url, user=USER, password="wrong").models()
    client = Client(url, token=TOKEN)
    with pytest.raises(InputError, match="needs a mask"):  # checked here, nothing sent
        client.analyze("tiny-bert-mlm", "mlm", "no mask here")
    with pytest.raises(InputError, match="does not serve task mlm"):  # the server's 422
        client.analyze("tiny-bert-sst", "mlm", TEXT)
    with pytest.raises(
        JobFailed, match="beyond the model's maximum length"
    ) as failed:  # only the worker knows
        client.analyze("tiny-bert-mlm", "mlm", "the " * 600 + "[MASK] .", methods=[], on_progress=None)
    assert failed.value.job["state"] == "error"
    with pytest.raises(ServerError) as unknown:
        client.get("0" * 64)
    assert unknown.value.status == 404
