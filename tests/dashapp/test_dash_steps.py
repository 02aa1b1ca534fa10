"""Generated / target tokens: a clickable strip whose click selects a step; saliency then shows that step."""

from __future__ import annotations

from urllib.parse import parse_qs

import numpy as np

from dashapp import ids
from dashapp.figures.common import HIGHLIGHT
from dashapp.figures.steps import NO_STEPS, at_step, step_strip_figure
from dashapp.pages.analyze import drawing, selecting
from dashapp.selection import clamp, default_selection, parse_selection, query_string
from dashapp.services import Services
from dashapp.views import SALIENCY, STEPS, VIEWS
from interp.schema import SALIENCY_METHODS
from tests.dashapp.fakes import FakeExecutor
from tests.dashapp.synthetic import synthetic_analysis

GENERATED = ["sat", "on", "<b>mat</b>"]


def generated_analysis():
    """A causal-lm analysis with three generated tokens: step_saliency [T, n] per method."""
    analysis = synthetic_analysis(task="causal-lm", model="tiny-gpt2")
    n, rng = analysis.n_tokens, np.random.default_rng(1)
    analysis.steps = [
        {
            "token": t,
            "label": t,
            "token_id": i,
            "position": n - 4 + i,
            "predictions": [{"label": t, "score": 0.9}],
        }
        for i, t in enumerate(GENERATED)
    ]
    analysis.step_saliency = {m: rng.normal(size=(3, n)).astype(np.float32) for m in SALIENCY_METHODS}
    return analysis


def test_the_strip_shows_each_step_escaped_and_marks_the_selected_one():
    fig = step_strip_figure(generated_analysis(), 1)
    strip = fig.data[0]
    n = generated_analysis().n_tokens  # each step's customdata: [step, the row that predicted it]
    assert list(strip.text) == ["sat", "on", "&lt;b&gt;mat&lt;/b&gt;"]
    assert [list(c) for c in strip.customdata] == [[0, n - 4], [1, n - 3], [2, n - 2]]
    assert [c == HIGHLIGHT for c in strip.marker.color] == [False, True, False]
    assert "Generated tokens" in fig.layout.title.text and "step 1: on" in fig.layout.title.text
    assert NO_STEPS in step_strip_figure(synthetic_analysis(), None).layout.annotations[0].text


def test_a_step_replaces_the_saliency_with_its_row():
    analysis = generated_analysis()
    assert at_step(analysis, None) is analysis and at_step(synthetic_analysis(), 0).saliency.keys()
    second = at_step(analysis, 2)
    for method in SALIENCY_METHODS:
        np.testing.assert_array_equal(second.saliency[method], analysis.step_saliency[method][2])
    assert second.target["label"] == "<b>mat</b> (step 2)" and analysis.saliency is not second.saliency


def test_a_seq2seq_step_shows_its_scores_on_the_source_tokens():
    analysis = generated_analysis()
    analysis.target_tokens = GENERATED
    n = analysis.n_tokens
    analysis.step_saliency = {
        m: np.arange(3 * (n + 3), dtype=np.float32).reshape(3, n + 3) for m in SALIENCY_METHODS
    }
    np.testing.assert_array_equal(at_step(analysis, 1).saliency["grad_norm"], np.arange(n + 3, 2 * n + 3))
    assert "Target tokens" in step_strip_figure(analysis, None).layout.title.text
    analysis.saliency = {}  # seq2seq: saliency per step only; the first step stands for the whole
    np.testing.assert_array_equal(at_step(analysis, None).saliency["grad_norm"], np.arange(n))


def test_a_click_selects_the_step_the_link_carries_it_and_saliency_follows():
    assert STEPS in VIEWS and STEPS.id == ids.STEPS
    sel = selecting.update_selection(default_selection(), ids.STEPS, {"points": [{"customdata": [2, 5]}]})
    assert sel["step"] == 2 and sel["token"] == 5  # a generated token: the row that predicted it too
    seq2seq = selecting.update_selection(
        default_selection(), ids.STEPS, {"points": [{"customdata": [1, None]}]}
    )
    assert seq2seq["step"] == 1 and seq2seq["token"] is None
    query = query_string(None, sel)
    assert "step=2" in query and parse_selection(parse_qs(query[1:]))["step"] == 2
    assert clamp({**sel, "step": 7}, generated_analysis())["step"] is None

    ex = FakeExecutor()
    analysis = generated_analysis()
    shown = {"key": ex.put(analysis), "final": True}
    services = Services(ex)
    fig, _ = drawing.redraw_view(services, SALIENCY, shown, sel, "light", None)
    assert "(step 2)" in fig.layout.title.text
    np.testing.assert_allclose(
        np.asarray(fig.data[0].x), np.round(analysis.step_saliency[SALIENCY_METHODS[0]][2], 5), atol=1e-4
    )
    before, _ = drawing.redraw_view(services, SALIENCY, shown, default_selection(), "light", None)
    assert "step" not in before.layout.title.text
