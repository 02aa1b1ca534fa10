"""The form's generation boxes: causal-lm generates N tokens (greedy, or sampled with a seed), seq2seq at most N
without a target text; the request, the link, a permalink's form and the stale marker all carry them."""

from __future__ import annotations

from urllib.parse import parse_qs

import dash
import pytest

from dashapp import ids
from dashapp.pages import components as ui
from dashapp.pages.analyze import layout, run, selecting, showing
from dashapp.services import Services
from tests.dashapp.fakes import FakeExecutor
from tests.dashapp.synthetic import synthetic_analysis

LM = {"model": "tiny-gpt2", "task": "causal-lm", "text": "the cat", "pair": "", "target": ""}


@pytest.mark.parametrize(
    "form, fields",
    [
        ({**LM, "generate": 5}, {"generate": 5}),
        ({**LM, "generate": "5", "seed": 7}, {"generate": 5, "sample_seed": 7}),
        ({**LM, "generate": None, "seed": 7}, {}),  # a seed alone asks for nothing
        ({**LM, "task": "seq2seq", "generate": 9}, {"max_new_tokens": 9}),
        ({**LM, "task": "seq2seq", "pair": "le chat", "generate": 9}, {}),  # a target: nothing to generate
        ({**LM, "task": "mlm", "generate": 9}, {}),
    ],
)
def test_the_boxes_become_the_tasks_generation_fields(form, fields):
    assert ui.generation_fields(form) == fields


def test_submit_asks_for_generation_and_a_wrong_count_is_refused(tiny_registry):
    services = Services(FakeExecutor(models=("tiny-gpt2",)))
    out = run.submit(services, {**LM, "generate": 4, "seed": 3})
    assert out["job"]["request"]["generate"] == 4 and out["job"]["request"]["sample_seed"] == 4 - 1
    refused = run.submit(services, {**LM, "generate": 500})
    assert refused["shown"]["stage"] == "refused" and "generate" in str(refused["alert"].children)


def test_the_boxes_show_for_the_tasks_that_generate():
    lm = run.task_changed("causal-lm")
    assert lm[5:] == ({}, ui.generate_label("causal-lm"), {})
    s2s = run.task_changed("seq2seq")
    assert s2s[5] == {} and "at most" in s2s[6] and s2s[7] == ui.HIDDEN
    assert run.task_changed("mlm")[5] == ui.HIDDEN


def test_the_link_and_a_permalink_carry_the_generation_and_a_changed_box_marks_the_views_stale():
    request = {**LM, "generate": 4, "sample_seed": 3}
    query = selecting.url_query({"key": "k"}, {"request": request}, None)
    params = parse_qs(query[1:])
    assert params["generate"] == ["4"] and params["sample_seed"] == ["3"]
    page = layout.layout(**{k: v[0] for k, v in params.items()})
    stores = {c.id: getattr(c, "data", None) for c in page.children if isinstance(c, dash.dcc.Store)}
    assert stores[ids.AUTORUN]["request"]["generate"] == 4 and stores[ids.AUTORUN]["request"]["seed"] == 3

    ex = FakeExecutor()
    analysis = synthetic_analysis(task="causal-lm", model="tiny-gpt2")
    analysis.request = analysis.request.with_(generate=4, sample_seed=3)
    key = ex.put(analysis)
    form = run.open_key(Services(ex), key)["form"]
    assert (form["generate"], form["seed"]) == (4, 3)

    shown, job = {"key": key}, {"key": key, "request": analysis.request.to_dict()}
    assert showing.form_matches(job["request"], form)
    assert not showing.form_matches(job["request"], {**form, "seed": None})  # now greedy: another analysis
    assert "+4 tokens (seed 3)" in showing.describe(job["request"])
    assert showing.showing(shown, job, {**form, "generate": 5})[1] == showing.STALE_CLASS
