"""The logit-lens view and the decoder-LLM particulars (GQA, sliding windows, soft-caps) in the views."""

from __future__ import annotations

import numpy as np
import pytest

from dashapp import ids
from dashapp.figures.architecture import architecture_summary, head_label, layer_label
from dashapp.figures.logit_lens import logit_lens_figure
from dashapp.figures.model_grid import model_grid_figure
from dashapp.pages.analyze.selecting import head_options, layer_options, update_selection
from dashapp.views import LOGIT_LENS
from tests.dashapp.synthetic import synthetic_analysis

# As interp.architecture.describe records a Gemma 2 (GQA 4 -> 2, layer 0 sliding, soft-caps)
GEMMA2 = {
    "model_type": "gemma2",
    "query_heads": 4,
    "kv_heads": 2,
    "kv_head_of_query": [0, 0, 1, 1],
    "layers": [
        {"kind": "sliding", "window": 4},
        {"kind": "global", "window": None},
        {"kind": "sliding", "window": 4},
    ],
    "attention_softcap": 50.0,
    "final_logit_softcap": 30.0,
}
PLAIN = {
    **GEMMA2,
    "kv_heads": 4,
    "kv_head_of_query": [0, 1, 2, 3],
    "layers": [{"kind": "global", "window": None}] * 3,
}
PLAIN = {**PLAIN, "attention_softcap": None, "final_logit_softcap": None}


def lens_analysis(architecture=None):
    analysis = synthetic_analysis(task="mlm", layers=3)
    rng = np.random.default_rng(1)
    analysis.logit_lens = [
        [
            {"label": w, "score": float(p), "token_id": i}
            for i, (w, p) in enumerate(zip(words, sorted(rng.random(4), reverse=True)))
        ]
        for words in (["the", "##s", "Ġ", "<b>x</b>"], ["cat", "dog", "the", "a"], ["cat", "the", "dog", "x"])
    ]
    analysis.logit_lens_target = [
        {"rank": 7, "score": 0.01},
        {"rank": 2, "score": 0.2},
        {"rank": 1, "score": 0.5},
    ]
    analysis.target = {"label": "cat", "index": 5}
    analysis.architecture = architecture or {}
    return analysis


def test_the_logit_lens_is_layers_by_top_k_with_the_targets_rank_and_the_selected_layer_outlined():
    analysis = lens_analysis(GEMMA2)
    fig = logit_lens_figure(analysis, 1, "dark")
    cells, bars = fig.data
    np.testing.assert_allclose(cells.z, [[e["score"] for e in row] for row in analysis.logit_lens], atol=1e-4)
    # readable: a WordPiece continuation marked, escaped user-visible text
    assert list(cells.text[0]) == ["the", "·s", "Ġ", "&lt;b&gt;x&lt;/b&gt;"]
    assert list(cells.customdata[2]) == [2] * 4 and list(bars.customdata) == [0, 1, 2]
    assert list(bars.x) == [0.01, 0.2, 0.5] and list(bars.text) == ["#7", "#2", "#1"]
    assert bars.marker.color[1] != bars.marker.color[0]  # the selected layer's bar stands out
    [outline] = fig.layout.shapes
    assert (outline.y0, outline.y1) == (0.5, 1.5)
    assert list(fig.layout.yaxis.ticktext) == ["L0 · w4", "L1", "L2 · w4 = output"]
    assert "layer 1 selected" in fig.layout.title.text and "soft-capped at 30" in fig.layout.title.text


def test_a_click_on_a_lens_row_selects_its_layer_and_analyses_without_a_lens_say_why():
    selection = update_selection(
        {"layer": 0}, LOGIT_LENS.id, {"points": [{"customdata": 2, "x": "#1", "y": 2}]}
    )
    assert selection["layer"] == 2
    assert update_selection({"layer": 1}, LOGIT_LENS.id, {"points": [{}]})["layer"] == 1
    assert LOGIT_LENS.id == ids.view_id("logit-lens") and LOGIT_LENS.in_report
    sst = synthetic_analysis(task="sst")
    assert "no logit lens" in logit_lens_figure(sst, 0, None).layout.annotations[0].text


def test_shared_key_value_heads_and_sliding_layers_are_named_where_heads_and_layers_are_chosen():
    assert [o["label"] for o in head_options(4, GEMMA2)] == [
        "head average", "head 0 · kv 0", "head 1 · kv 0", "head 2 · kv 1", "head 3 · kv 1"
    ]  # fmt: skip
    assert [o["label"] for o in layer_options(3, GEMMA2)] == [
        "layer 0 · sliding 4",
        "layer 1 · global",
        "layer 2 · sliding 4",
    ]
    assert [o["label"] for o in head_options(2, PLAIN)][1:] == ["head 0", "head 1"]
    assert [o["label"] for o in layer_options(2, {})] == [
        "layer 0",
        "layer 1",
    ]  # analyses from before it was recorded
    assert head_label(GEMMA2, 3, short=True) == "h3·kv1" and layer_label(GEMMA2, 2, short=True) == "L2 · w4"
    assert architecture_summary(GEMMA2) == (
        "4 query heads share 2 key/value heads (2 each) · layers 0, 2 sliding-window (4 tokens), the others global"
        " · attention scores soft-capped at 50 · final logits soft-capped at 30"
    )
    assert architecture_summary(PLAIN) == ""
    analysis = synthetic_analysis(layers=3, heads=4)
    analysis.architecture = GEMMA2
    grid = model_grid_figure(analysis, 0, None)
    assert list(grid.layout.xaxis.ticktext) == ["h0·kv0", "h1·kv0", "h2·kv1", "h3·kv1"]
    assert list(grid.layout.yaxis.ticktext) == ["L0 · w4", "L1", "L2 · w4"]
    assert (
        "4 query heads share 2" in grid.layout.title.text
        and "layer 1 · global · head 3 · kv 1" in grid.data[1].hovertext[7]
    )


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_lens_draws_in_both_themes(theme):
    assert logit_lens_figure(lens_analysis(), None, theme).layout.shapes == ()
