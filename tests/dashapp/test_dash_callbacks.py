"""Callback bodies called directly, against an in-memory executor (the browser tests use the real one)."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import threading
import time
from urllib.parse import parse_qs

import numpy as np
import pytest
from dash import Patch, no_update

from dashapp import ids, jobs, redraw
from dashapp.pages import compare, history
from dashapp.pages.analyze import drawing, run, selecting
from dashapp.selection import default_selection, parse_selection
from dashapp.services import Services
from dashapp.views import VIEWS, by_id
from interp.schema import InputError
from tests.dashapp.fakes import FakeExecutor
from tests.dashapp.synthetic import synthetic_analysis

EDGES = {ids.EDGE_TOP_K: 3, ids.EDGE_THRESHOLD: 0}
VIEW_IDS = [view.id for view in VIEWS]
FORM = {
    "model": "tiny-bert-mlm",
    "task": "mlm",
    "text": "the quick brown fox jumps [MASK]",
    "pair": "",
    "target": "",
}


def cached(ex: FakeExecutor, **kw) -> tuple[str, object]:
    analysis = synthetic_analysis(**kw)
    return ex.put(analysis), analysis


def test_submit_cached_renders_at_once(ex, services):
    key, _ = cached(ex)
    out = run.submit(services, FORM)
    assert out["shown"] == {"key": key, "final": True, "stage": None}
    assert out["poll_disabled"] is True and out["job"]["cached"] is True
    assert out["job"]["request"]["text"] == FORM["text"]


def test_submit_miss_starts_polling(services):
    out = run.submit(services, {**FORM, "text": "a new [MASK] sentence"})
    assert (
        out["poll_disabled"] is False and out["job"]["job_id"] == "job-0" and out["shown"]["final"] is False
    )


@pytest.mark.parametrize(
    "form, message",
    [
        ({**FORM, "text": "   "}, "text is empty"),
        ({**FORM, "text": "no mask here"}, "needs a mask"),
        ({**FORM, "model": "nope"}, "unknown model"),
        ({**FORM, "task": "mnli", "pair": ""}, "needs a hypothesis"),
    ],
)
def test_bad_input_is_a_readable_alert(services, form, message):
    out = run.submit(services, form)
    assert out["job"] is None and message in out["alert"].children
    assert out["shown"]["key"] is None  # no old views beside the message as if they answered the form


def test_executor_failure_is_an_alert_not_a_traceback(services, ex):
    def broken(_request, client=None, focus=None):
        raise ConnectionError("redis is down")

    ex.submit = broken
    assert "redis is down" in run.submit(services, FORM)["alert"].children


def test_poll_follows_a_job_to_the_end(services, ex):
    out = run.submit(services, {**FORM, "text": "the [MASK] sat"})
    job, view = out["job"], out["shown"]
    queued = run.poll(services, job, view)
    assert "position 1 in the queue" in queued["progress_text"] and "shown" not in queued
    status = ex.jobs[job["job_id"]]
    status.state, status.stage, status.progress, status.queue_position = "running", "forward", 0.3, None
    running = run.poll(services, job, view)
    assert running["progress"] == 30 and running["shown"]["stage"] == "forward"
    assert "shown" not in run.poll(services, job, running["shown"])  # same stage: no re-render
    status.state = "done"
    done = run.poll(services, job, running["shown"])
    assert done["poll_disabled"] and done["shown"]["final"]


def test_poll_shows_job_errors(services, ex):
    out = run.submit(services, {**FORM, "text": "the [MASK] sat"})
    status = ex.jobs[out["job"]["job_id"]]
    status.state, status.error = "error", "model tiny-bert-mlm cannot be loaded: no weights"
    result = run.poll(services, out["job"], out["shown"])
    assert result["poll_disabled"] and "no weights" in result["alert"].children
    # the views stop saying "computing…"
    assert (
        "the job failed"
        in drawing.render_view(services, by_id(ids.HEATMAP), result["shown"], None, None)
        .layout.annotations[0]
        .text
    )
    assert run.poll(services, {"key": "k", "job_id": "gone"}, None)["alert"].color == "warning"


def test_cancel(services, ex):
    out = run.submit(services, {**FORM, "text": "the [MASK] sat"})
    assert jobs.cancel(services, out["job"]) == "cancelling…"
    assert ex.cancelled == [out["job"]["job_id"]]
    ended = run.poll(services, out["job"], out["shown"])["shown"]
    assert (
        "cancelled"
        in drawing.render_view(services, by_id(ids.SALIENCY), ended, None, None).layout.annotations[0].text
    )
    assert jobs.cancel(services, out["job"]) == "the job had already ended"


def test_partial_results_render_before_the_end(services, ex):
    out = run.submit(services, {**FORM, "text": "the [MASK] sat"})
    ex.store.partials[out["shown"]["key"]] = synthetic_analysis(stages="forward")
    view = {**out["shown"], "stage": "saliency"}
    assert len(drawing.render_view(services, by_id(ids.HEATMAP), view, None, "light").data) == 1
    assert (
        "not computed"
        in drawing.render_view(services, by_id(ids.SALIENCY), view, None, "light").layout.annotations[0].text
    )


def test_mask_word_rewrites_one_word():
    text, memo = run.mask_word("the cat  sat down", 2, None)
    assert text == "the cat  [MASK] down" and memo == {"word": 2, "original": "sat"}
    text, memo = run.mask_word(text, 0, memo)  # the earlier mask comes back: the sentence stays the user's
    assert text == "[MASK] cat  sat down"
    # a typed mask stands for a word nobody knows: never filled
    with pytest.raises(InputError, match="typed"):
        run.mask_word("a [MASK] b", 2, None)
    assert run.mask_word("a [MASK] b", 1, None)[0] == "a [MASK] b"  # clicking the typed mask itself


def test_clicking_a_token_in_mask_mode_masks_its_word_and_reruns(services, ex):
    key, analysis = cached(ex)
    view = {"key": key, "final": True}
    clicks = [0] * analysis.n_tokens
    clicks[5] = 1  # [CLS] the qu ##ick brown fox: token 5 is word 3
    form = {**FORM, "text": analysis.request.text}
    typed = run.start(services, ids.token_button(5), None, form, clicks, True, view, None)
    assert "typed" in typed["alert"].children and "form" not in typed and "job" not in typed
    form = {**FORM, "text": "the quick brown fox jumps cat"}  # the user typed the word in place of the mask
    out = run.start(services, ids.token_button(5), None, form, clicks, True, view, None)
    assert out["form"]["text"] == "the quick brown [MASK] jumps cat" and out["memo"]["original"] == "fox"
    # the mask moves on: "fox" comes back, nothing else changes
    moved = {**form, **out["form"]}
    back = run.start(
        services, ids.token_button(7), None, moved, [*clicks[:5], 0, 0, 1], True, view, out["memo"]
    )
    assert back["form"]["text"] == "the quick brown fox jumps [MASK]" and back["memo"]["original"] == "cat"
    longer = run.start(
        services, ids.token_button(5), None, {**form, "text": "a b c d e f g h"}, clicks, True, view, None
    )
    assert "changed since" in longer["alert"].children
    assert out["job"]["request"]["text"] == out["form"]["text"]
    assert run.start(services, ids.token_button(5), None, form, clicks, False, view, None) == {}
    assert (
        run.start(services, ids.token_button(0), None, form, [1, *clicks[1:]], True, view, None) == {}
    )  # [CLS]


def test_autorun_and_permalink(services, ex):
    key, analysis = cached(ex)
    out = run.start(services, ids.AUTORUN, {"request": FORM}, {}, [], False, None, None)
    assert out["shown"]["key"] == key and out["autorun"] is None
    link = run.start(services, ids.AUTORUN, {"key": key}, {}, [], False, None, None)
    assert link["shown"]["permalink"] and link["form"]["text"] == analysis.request.text
    missing = run.open_key(services, "0" * 64)
    assert "no cached analysis" in missing["alert"].children
    assert "no cached analysis" in run.open_key(services, "../etc")["alert"].children


@pytest.mark.parametrize(
    "trigger, value, expected",
    [
        (ids.LAYER, 2, {"layer": 2}),
        (ids.HEAD, "avg", {"head": None}),
        (ids.HEAD, 3, {"head": 3}),
        (ids.HEAD, None, {}),
        (ids.LAYER, None, {}),
        (ids.METHOD, "grad_norm", {"method": "grad_norm"}),
        (ids.token_button(5), 1, {"token": 5}),
        (ids.token_button(5), 0, {}),
        (ids.MODEL_GRID, {"points": [{"customdata": [2, 1]}]}, {"layer": 2, "head": 1}),
        (ids.ATTENTION_GRAPH, {"points": [{"customdata": 4}]}, {"token": 4}),
        (ids.HEATMAP, {"points": [{"x": "2 fox", "y": "6 over"}]}, {"token": 6}),
        (ids.TOKEN_FOCUS, {"points": [{"x": "3 b", "y": "L2"}]}, {"token": 3, "layer": 2}),
    ],
)
def test_update_selection(trigger, value, expected):
    before = {**default_selection(), "head": 1}
    assert selecting.update_selection(before, trigger, value) == {**before, **expected}


def test_views_follow_the_selection(services, ex):
    key, analysis = cached(ex)
    view, sel = {"key": key, "final": True}, {"layer": 1, "head": 2, "token": 3, "method": "grad_norm"}
    heat = drawing.render_view(services, by_id(ids.HEATMAP), view, sel, "dark")
    assert np.allclose(np.asarray(heat.data[0].z), analysis.attention[1, 2], atol=1e-4)
    assert heat.layout.template.layout.paper_bgcolor is not None  # plotly_dark
    graph = drawing.render_view(
        services, by_id(ids.ATTENTION_GRAPH), view, sel, "light", top_k=2, threshold=0.0
    )
    assert any(t.name == "selected attends to" for t in graph.data)
    strip = drawing.render_view(services, by_id(ids.TOKEN_STRIP), view, sel, None)
    assert "token-selected" in strip.children[3].className
    layers, heads, layer, head, few_layers, few_heads = selecting.dimension_options(
        services, view, {**sel, "layer": 7}
    )
    assert len(layers) == 3 and heads[0]["value"] == "avg" and (layer, head) == (2, 2)
    assert [o["value"] for o in few_layers] == [0, 1, 2] and len(few_heads) == 4
    # a link naming layer 11 of a 3-layer model is clamped, not a crash
    assert (
        "layer 2"
        in drawing.render_view(
            services, by_id(ids.HEATMAP), view, {**sel, "layer": 11}, None
        ).layout.title.text
    )
    assert (
        "run an analysis"
        in drawing.render_view(services, by_id(ids.PREDICTIONS), None, None, None).layout.annotations[0].text
    )


def marked(out) -> list[dict]:
    """The shapes of a token mark the browser moves."""
    assert isinstance(out, redraw.Mark), type(out)
    return out.shapes


def test_views_send_only_what_changed(services, ex):
    key, analysis = cached(ex)
    view, sel = {"key": key, "final": True}, {"layer": 1, "head": 2, "token": None, "method": "grad_norm"}
    first, drawn = {}, {}
    for vid in VIEW_IDS:
        first[vid], drawn[vid] = drawing.redraw_view(services, by_id(vid), view, sel, "light", None)
        assert first[vid] is not no_update and not isinstance(first[vid], Patch)
    assert np.allclose(
        np.asarray(first[ids.SENSITIVITY].data[0].z), analysis.attention_sensitivity[1], atol=1e-4
    )

    def again(vid, selection, theme="light"):
        return drawing.redraw_view(services, by_id(vid), view, selection, theme, drawn[vid])

    # a token click: the big matrices get their outline moved (a Mark the browser draws), views that show no
    # token get nothing; the token strip marks its button in the browser (assets/token_strip.js)
    token = {**sel, "token": 3}
    outline, _ = again(ids.HEATMAP, token)
    assert [s_["y0"] for s_ in marked(outline)] == [2.5, -0.5]  # row 3, column 3
    assert [s_["y0"] for s_ in marked(again(ids.SENSITIVITY, token)[0])] == [2.5]
    band = marked(again(ids.SALIENCY, token)[0])  # behind every method's bars: the row of token 3
    assert {(s_["xref"], s_["x0"], s_["x1"], s_["y0"], s_["y1"]) for s_ in band} == {
        ("paper", 0, 1, 2.5, 3.5)
    }
    assert again(ids.MODEL_GRID, token) == (no_update, no_update)
    assert again(ids.PREDICTIONS, token) == (no_update, no_update)
    assert again(ids.TOKEN_STRIP, token) == (no_update, no_update)
    unselected = drawing.redraw_view(
        services, by_id(ids.SALIENCY), view, sel, "light", again(ids.SALIENCY, token)[1]
    )[0]
    assert marked(unselected) == []  # no token any more: the mark goes
    assert any(t.name == "selected attends to" for t in again(ids.ATTENTION_GRAPH, token)[0].data)
    # a saliency method colours the token strip and is marked among the saliency bars; a layer redraws what
    # shows the layer
    method = {**sel, "method": "integrated_gradients"}
    showing_method = (ids.TOKEN_STRIP, ids.SALIENCY)
    assert all(again(vid, method) == (no_update, no_update) for vid in VIEW_IDS if vid not in showing_method)
    assert again(ids.TOKEN_STRIP, method)[0] is not no_update
    layer = {**sel, "layer": 2}
    assert np.allclose(
        np.asarray(again(ids.HEATMAP, layer)[0].data[0].z), analysis.attention[2, 2], atol=1e-4
    )
    assert again(ids.TOKEN_FOCUS, layer) == (no_update, no_update)
    cells = marked(again(ids.MODEL_GRID, layer)[0])  # the overview moves its outline to layer 2's 4 heads
    assert len({c["y0"] for c in cells}) == 1 and len(cells) == 1  # head 2 of layer 2
    assert again(ids.PREDICTIONS, sel, theme="dark")[0].layout.template.layout.paper_bgcolor is not None


@pytest.mark.parametrize("layer", [1, 0])
def test_a_landed_part_redraws_only_the_views_drawn_from_it(services, ex, layer):
    """Layer 1's sensitivity lands beside an analysis on show: the sensitivity view redraws if it shows
    layer 1, and nothing else asks for a figure (a part used to redraw every view)."""
    key, analysis = cached(ex)
    offered = analysis.attention_sensitivity.copy()
    offered[1] = np.nan
    parts = {f"sensitivity.{n}": {"state": "done"} for n in range(analysis.num_layers)}
    ex.store.analyses[key] = dataclasses.replace(
        analysis,
        attention_sensitivity=offered,
        parts={**parts, "sensitivity.1": {"state": "offered", "estimate_s": 40}},
    )
    shown, sel = (
        {"key": key, "final": True, "stage": None},
        {**default_selection(), "layer": layer, "token": 2},
    )
    drawn = {vid: drawing.redraw_view(services, by_id(vid), shown, sel, "light", None)[1] for vid in VIEW_IDS}
    ex.store.analyses[key] = dataclasses.replace(analysis, parts=parts)  # landed: stored beside it
    services.forget(key)  # what the LRU does once it sees a part stored since (workers.part_store.landed)
    landed = {**shown, "parts": 1}  # dashapp.pages.analyze.parts.poll
    redrawn = {
        vid: out
        for vid in VIEW_IDS
        if (out := drawing.redraw_view(services, by_id(vid), landed, sel, "light", drawn[vid])[0])
        is not no_update
    }
    assert list(redrawn) == ([ids.SENSITIVITY] if layer == 1 else [])
    if layer == 1:
        z = np.asarray(redrawn[ids.SENSITIVITY].data[0].z)
        assert np.allclose(z, analysis.attention_sensitivity[1], atol=1e-4)


def test_a_placeholder_gets_no_token_outline(services, ex):
    out = run.submit(services, {**FORM, "text": "the [MASK] sat"})
    ex.store.partials[out["shown"]["key"]] = synthetic_analysis(stages="forward")
    view, sel = (
        {**out["shown"], "stage": "forward"},
        {"layer": 0, "head": None, "token": None, "method": "grad_norm"},
    )
    placeholder, drawn = drawing.redraw_view(services, by_id(ids.SENSITIVITY), view, sel, None, None)
    assert "not computed" in placeholder.layout.annotations[0].text
    assert (
        drawing.redraw_view(services, by_id(ids.SENSITIVITY), view, {**sel, "token": 2}, None, drawn)[0]
        is no_update
    )
    assert marked(
        drawing.redraw_view(
            services,
            by_id(ids.HEATMAP),
            view,
            {**sel, "token": 2},
            None,
            drawing.redraw_view(services, by_id(ids.HEATMAP), view, sel, None, None)[1],
        )[0]
    )


def test_a_store_failure_is_shown_in_the_views(services, ex):
    def broken(_key):
        raise ConnectionError("redis is down")

    ex.result = broken
    figure, drawn = drawing.redraw_view(
        services, by_id(ids.HEATMAP), {"key": "k", "final": True}, None, None, None
    )
    assert "redis is down" in figure.layout.annotations[0].text and drawn is None
    assert (
        "redis is down"
        in drawing.redraw_view(services, by_id(ids.TOKEN_STRIP), {"key": "k"}, None, None, None)[0].children
    )


def test_views_asking_at_once_read_an_analysis_once(ex):
    key, _ = cached(ex)
    reads = []
    result = ex.result

    def slow_result(k):
        reads.append(k)
        time.sleep(0.2)  # a big analysis takes a while to decode: the other views arrive meanwhile
        return result(k)

    ex.result = slow_result
    services = Services(ex)
    found = []
    threads = [threading.Thread(target=lambda: found.append(services.analysis(key))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reads == [key] and len(found) == 8 and all(a is found[0] and a is not None for a in found)


def test_badge_says_cached_time_and_worker(services, ex):
    key, _ = cached(ex)
    badge = run.badge(services, {"key": key, "final": True}, {"cached": True})
    text = str(badge)
    assert "cached" in text and "took 1.50 s" in text and "by host:1" in text and key in text


def test_exports(services, ex):
    key, analysis = cached(ex, text="<script>alert(1)</script><b>x</b> [MASK]")
    view, sel = {"key": key, "final": True}, {"layer": 0, "head": None, "token": 1, "method": "grad_norm"}
    as_json = drawing.export(services, ids.EXPORT_JSON, view, sel, None, EDGES)
    data = json.loads(base64.b64decode(as_json["content"]) if as_json.get("base64") else as_json["content"])
    assert data["key"] == key and np.asarray(data["attention"]).shape == analysis.attention.shape
    csv_text = drawing.export(services, ids.EXPORT_CSV, view, sel, None, EDGES)["content"]
    assert csv_text.startswith(
        "index,token,piece,word,special,grad_norm,grad_x_input,integrated_gradients,attention_rollout"
    )
    npz = drawing.export(services, ids.EXPORT_NPZ, view, sel, None, EDGES)
    arrays = np.load(io.BytesIO(base64.b64decode(npz["content"])))
    assert arrays["attention"].shape == analysis.attention.shape and "saliency.grad_norm" in arrays
    assert list(arrays["tokens"]) == analysis.tokens  # the API's .npz has the same contents (exports.to_npz)
    report = drawing.export(services, ids.EXPORT_HTML, view, sel, None, EDGES)["content"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;" in report
    assert "<script>alert(1)</script>" not in report and "<b>x</b>" not in report
    assert drawing.export(services, ids.EXPORT_JSON, None, sel, None, EDGES) is None


def test_url_carries_request_and_selection():
    job = {"request": {"model": "m", "task": "mlm", "text": "a [MASK] & b", "pair": None, "target": None}}
    sel = {**default_selection(), "layer": 1, "head": None, "token": 4, "method": "grad_norm"}
    query = selecting.url_query({"key": "k"}, job, sel)
    params = parse_qs(query[1:])
    assert params == {
        "model": ["m"],
        "task": ["mlm"],
        "text": ["a [MASK] & b"],
        "layer": ["1"],
        "token": ["4"],
        "method": ["grad_norm"],
    }
    assert parse_selection({k: v[0] for k, v in params.items()}) == sel
    assert (
        selecting.url_query({"key": "k", "permalink": True}, job, sel) == "?layer=1&token=4&method=grad_norm"
    )
    assert parse_selection({"layer": "x", "head": "-3", "method": "evil"})["method"] == "integrated_gradients"
    assert parse_selection({"layer": ["0", "2"]})["layer"] == 2  # ?layer=0&layer=2: the last wins


def test_services_lru_keeps_final_analyses(ex):
    services = Services(ex, lru_size=2)
    keys = [cached(ex, seed=i, text=f"text {i} [MASK]")[0] for i in range(3)]
    first = services.analysis(keys[0])
    assert services.analysis(keys[0]) is first
    services.analysis(keys[1]), services.analysis(keys[2])
    assert keys[0] not in services._lru and services.analysis(None) is None
    small = Services(ex, lru_bytes=1)  # any analysis is over budget: only the newest is kept
    small.analysis(keys[0]), small.analysis(keys[1])
    assert list(small._lru) == [keys[1]]


def test_history_rows_and_delete(services, ex):
    key, _ = cached(ex, text="<b>x</b> the [MASK]")
    rows, problem = history.history_rows(services, None, None, None)
    assert problem is None and rows[0]["key"] == key and rows[0]["open"] == f"[open](/analysis/{key})"
    assert rows[0]["text"] == "<b>x</b> the [MASK]" and rows[0]["seconds"] == 1.5
    assert history.history_rows(services, "tiny-roberta-mlm", None, None)[0] == []
    assert history.history_row({"key": "](javascript:alert(1))", "request": {}}) is None
    message, deleted = history.delete_selected(services, rows, [0])
    assert deleted == key and "deleted" in message.children and ex.store.get_meta(key) is None
    assert history.delete_selected(services, rows, [])[1] == "none"


def test_compare_runs_polls_and_renders(services, ex):
    models = ["tiny-bert-mlm", "tiny-roberta-mlm"]
    assert (
        "pick 2 to 4" in compare.run_compare(services, "mlm", models[:1], "a [MASK]", None)["alert"].children
    )
    assert "needs a mask" in compare.run_compare(services, "mlm", models, "no mask", None)["alert"].children
    bert = synthetic_analysis(text="the cat [MASK]")
    key = ex.put(bert)
    out = compare.run_compare(services, "mlm", [*models, "unknown-model"], "the cat [MASK]", None)
    jobs = out["jobs"]
    assert [j["state"] for j in jobs] == ["done", "queued", "error"] and jobs[0]["key"] == key
    assert "unknown model" in jobs[2]["error"] and out["poll_disabled"] is False
    roberta = synthetic_analysis(model="tiny-roberta-mlm", text="the cat [MASK]", seed=3)
    ex.store.analyses[jobs[1]["key"]] = roberta
    ex.jobs[jobs[1]["job_id"]].state = "done"
    polled = compare.poll_compare(services, jobs)
    assert polled["jobs"][1]["state"] == "done" and "words" not in polled["jobs"][2]
    # every model done: each is asked for the union of their predictions, without saliency
    word_jobs = [j["words"] for j in polled["jobs"][:2]]
    assert not polled["poll_disabled"] and "same words" in polled["status"]
    for job, model in zip(word_jobs, models, strict=True):
        asked = next(s for s in ex.jobs.values() if s.job_id == job["job_id"])
        request = bert.request.with_(model=model, candidates=["cat", "dog", "<b>x</b>"], methods=())
        assert asked.key == ex.key_of(request)
        scored = synthetic_analysis(model=model, text="the cat [MASK]")
        scored.candidate_scores = [
            {"word": w, "score": p, "single_token": p is not None, "pieces": [] if p else ["<", "b", ">"]}
            for w, p in zip(request.candidates, (0.4, 0.1, None) if model == models[0] else (0.1, 0.3, 0.2))
        ]
        ex.store.analyses[asked.key], asked.state = scored, "done"
    polled = compare.poll_compare(services, polled["jobs"])
    assert polled["poll_disabled"] and [j["words"]["state"] for j in polled["jobs"][:2]] == ["done"] * 2
    columns = compare.render_columns(services, polled["jobs"], 1, "grad_norm", "light", "svg")
    assert len(columns) == 3
    graphs = columns[0].children.children[1].children
    assert len(graphs) == 3 and graphs[0].config["toImageButtonOptions"]["format"] == "svg"
    assert "unknown model" in str(columns[2])
    assert compare.layer_range(services, polled["jobs"], 7) == (2, 2)  # 3-layer models: the slider stops at 2
    assert compare.layer_range(services, jobs[2:], 1) == (no_update, no_update)
    diff = compare.render_difference(services, polled["jobs"], *models, "grad_norm", None)
    assert "Difference" in diff.layout.title.text
    bars = diff.data[-1]  # the same words, each model's own probability; an escaped word that is no token
    assert list(bars.y) == [
        "cat",
        "dog",
        "&lt;b&gt;x&lt;/b&gt; (not one token for tiny-bert-mlm (&lt;·b·&gt;))",
    ]
    assert list(bars.x) == [pytest.approx(0.3), pytest.approx(-0.2), None]
    assert (
        "two different"
        in compare.render_difference(services, jobs, models[0], models[0], None, None)
        .layout.annotations[0]
        .text
    )


def test_services_read_a_running_jobs_partial_once_per_stage(ex, monkeypatch):
    services = Services(ex)
    reads = []
    monkeypatch.setattr(ex, "partial", lambda key: reads.append(key) or ex.store.partials.get(key))
    ex.store.partials["running"] = forward = synthetic_analysis(stages="forward")
    assert all(services.analysis("running") is forward for _ in range(5)) and reads == ["running"]
    ex.store.partials["running"] = later = synthetic_analysis()  # a stage more stored: read again, once
    assert all(services.analysis("running") is later for _ in range(5)) and reads == ["running"] * 2
