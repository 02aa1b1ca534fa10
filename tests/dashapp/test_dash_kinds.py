"""Attention kinds (seq2seq): encoder, decoder and cross-attention in the graph, heatmap, head view, model
overview and token focus; the switch in the selection and the link; clicks select a source token or a step."""

from __future__ import annotations

from urllib.parse import parse_qs

import numpy as np
import pytest

from dashapp import ids, redraw
from dashapp.figures.attention_graph import attention_graph_figure
from dashapp.figures.head_view import head_view_figure
from dashapp.figures.heatmap import heatmap_figure
from dashapp.figures.kinds import CROSS, DECODER, ENCODER, kinds, on_kind, query_key
from dashapp.figures.model_grid import model_grid_figure
from dashapp.pages.analyze import drawing, selecting
from dashapp.pages.components import HIDDEN
from dashapp.selection import clamp, default_selection, parse_selection, query_string
from dashapp.services import Services
from dashapp.views import (
    ATTENTION_GRAPH,
    HEAD_VIEW,
    HEATMAP,
    LOGIT_LENS,
    MODEL_GRID,
    SENSITIVITY,
    STEPS,
    TOKEN_FOCUS,
    VIEWS,
    always,
)
from tests.dashapp.fakes import FakeExecutor
from tests.dashapp.synthetic import synthetic_analysis

TARGET = ["<s>", "le", "<b>chat</b>", "</s>"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    return (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)


def seq2seq_analysis(layers: int = 2, heads: int = 3):
    """Source tokens from the synthetic analysis; 4 decoder tokens; decoder and cross attention."""
    analysis = synthetic_analysis(layers=layers, heads=heads)
    n, nt, rng = analysis.n_tokens, len(TARGET), np.random.default_rng(3)
    analysis.decoder_tokens = ["</s>", *TARGET[:-1]]
    analysis.target_tokens = TARGET
    analysis.attention_sensitivity = None  # seq2seq computes none
    analysis.decoder_attention = _softmax(rng.normal(size=(layers, heads, nt, nt)) * 3)
    analysis.cross_attention = _softmax(rng.normal(size=(layers, heads, nt, n)) * 3)
    analysis.steps = [
        {"token": t, "label": t, "token_id": i, "position": i, "predictions": [{"label": t, "score": 0.5}]}
        for i, t in enumerate(TARGET)
    ]
    return analysis


def test_an_analysis_has_one_kind_or_seq2seqs_three():
    assert kinds(synthetic_analysis()) == (ENCODER,)
    assert kinds(seq2seq_analysis()) == (ENCODER, DECODER, CROSS)


def test_each_kind_is_its_own_array_and_tokens():
    analysis = seq2seq_analysis()
    encoder, _ = on_kind(analysis, {**default_selection(), "kind": None})
    assert encoder is analysis
    decoder, _ = on_kind(analysis, {**default_selection(), "kind": DECODER})
    assert decoder.tokens == analysis.decoder_tokens and decoder.attention is analysis.decoder_attention
    cross, sel = on_kind(analysis, {**default_selection(), "kind": CROSS, "layer": 9, "head": 7})
    assert cross.attention.shape[2:] == (4, analysis.n_tokens) and (sel["layer"], sel["head"]) == (1, None)
    # a source token stays selected; a step selects the decoder row that predicts it
    sel = {**default_selection(), "kind": CROSS, "token": 2, "step": 1}
    assert query_key(cross, sel) == (1, 2) and query_key(decoder, sel) == (1, 1)
    assert query_key(analysis, sel) == (2, 2)


def test_cross_attention_is_a_bipartite_graph_from_target_to_source_tokens():
    analysis = seq2seq_analysis()
    cross, _ = on_kind(analysis, {**default_selection(), "kind": CROSS})
    n = analysis.n_tokens
    fig = attention_graph_figure(cross, 0, 1, token=2, top_k=2, key=3)
    queries, keys = [t for t in fig.data if t.mode == "markers+text"]
    assert len(queries.text) == 4 and len(keys.text) == n and queries.text[3] == "&lt;b&gt;chat&lt;/b&gt;"
    assert "cross-attention" in fig.layout.title.text
    lines = [t for t in fig.data if t.mode == "lines"]
    # the few target tokens spread over the source tokens' height: a segment's ends are its tokens' y
    query_y, key_y = list(queries.y), list(keys.y)
    assert query_y[0] == key_y[0] == 0 and query_y[-1] == key_y[-1] == -(n - 1)
    edges = {(query_y.index(t.y[k]), key_y.index(t.y[k + 1])) for t in lines for k in range(0, len(t.y), 3)}
    expected = {(i, int(j)) for i in range(4) for j in np.argsort(-analysis.cross_attention[0, 1, i])[:2]}
    assert edges == expected
    outgoing = next(t for t in fig.data if t.name == "selected attends to")
    assert set(outgoing.y[0::3]) == {query_y[2]}


def test_heatmap_head_view_overview_and_focus_take_the_cross_shape():
    analysis = seq2seq_analysis()
    cross, _ = on_kind(analysis, {**default_selection(), "kind": CROSS})
    n = analysis.n_tokens
    heat = heatmap_figure(cross, 1, None, 2, key=5)
    assert np.asarray(heat.data[0].z).shape == (4, n) and len(heat.data[0].x) == n
    row, column = heat.layout.shapes
    assert (row.y0, row.x1) == (1.5, n - 0.5) and (column.x0, column.y1) == (4.5, 3.5)
    np.testing.assert_allclose(np.asarray(heat.data[0].z), analysis.cross_attention[1].mean(0), atol=1e-4)
    head = head_view_figure(cross, 0)
    assert len([t for t in head.data if t.mode == "markers+text"][1].text) == n
    grid = model_grid_figure(cross, 0, None)
    assert len(grid.data[1].customdata) == 2 * 3 and "cross-attention" in grid.layout.title.text
    sel = {**default_selection(), "kind": CROSS, "step": 1, "token": 2}
    focus = drawing.render_view(*_shown(analysis), sel, None)
    shapes = [np.asarray(t.z).shape for t in focus.data]
    assert shapes == [(2, n), (2, 4)]  # step 1 attends to the source; the decoder attends to source token 2


def _shown(analysis, view=TOKEN_FOCUS):
    ex = FakeExecutor()
    return Services(ex), view, {"key": ex.put(analysis), "final": True}


def test_the_kind_is_in_the_selection_and_the_link_and_clamped_to_what_the_analysis_holds():
    sel = selecting.update_selection(default_selection(), ids.KIND, CROSS)
    assert sel["kind"] == CROSS
    assert selecting.update_selection(sel, ids.KIND, ENCODER)["kind"] is None
    assert selecting.update_selection(sel, ids.KIND, "<b>")["kind"] == CROSS
    query = query_string(None, sel)
    assert "kind=cross" in query and parse_selection(parse_qs(query[1:]))["kind"] == CROSS
    assert clamp(sel, seq2seq_analysis())["kind"] == CROSS
    assert clamp(sel, synthetic_analysis())["kind"] is None  # a one-kind analysis: the link's kind is moot
    assert parse_selection({"kind": "evil"})["kind"] is None


@pytest.mark.parametrize(
    "kind, view, point, expected",
    [
        (CROSS, ATTENTION_GRAPH, {"customdata": 2, "x": 0}, {"step": 2}),
        (CROSS, ATTENTION_GRAPH, {"customdata": 5, "x": 1}, {"token": 5}),
        (DECODER, ATTENTION_GRAPH, {"customdata": 3, "x": 1}, {"step": 3}),
        (None, ATTENTION_GRAPH, {"customdata": 3, "x": 1}, {"token": 3}),
        (CROSS, HEATMAP, {"x": "4 fox", "y": "1 le"}, {"step": 1}),
        (CROSS, HEAD_VIEW, {"customdata": 1, "x": 0}, {"step": 1}),
        (CROSS, TOKEN_FOCUS, {"x": "3 b", "y": "L1", "customdata": 1}, {"token": 3, "layer": 1}),
        (CROSS, TOKEN_FOCUS, {"x": "2 le", "y": "L0", "customdata": 0}, {"step": 2, "layer": 0}),
    ],
)
def test_a_click_selects_a_source_token_or_a_step_by_what_it_is(kind, view, point, expected):
    before = {**default_selection(), "kind": kind}
    assert selecting.update_selection(before, view.id, {"points": [point]}) == {**before, **expected}


def test_the_views_follow_the_kind_and_a_step_redraws_the_decoder_row():
    analysis = seq2seq_analysis()
    services, _view, shown = _shown(analysis)
    sel = {**default_selection(), "kind": CROSS}
    heat, drawn = drawing.redraw_view(services, HEATMAP, shown, sel, "light", None)
    assert "cross-attention" in heat.layout.title.text
    stepped, drawn = drawing.redraw_view(services, HEATMAP, shown, {**sel, "step": 2}, "light", drawn)
    assert stepped.layout.shapes[0].y0 == 1.5  # the decoder row that predicts step 2
    # a source token click outlines its column: a mark the browser moves, not a new heatmap
    mark, _ = drawing.redraw_view(services, HEATMAP, shown, {**sel, "step": 2, "token": 4}, "light", drawn)
    assert isinstance(mark, redraw.Mark) and (mark.shapes[1]["x0"], mark.shapes[1]["x1"]) == (3.5, 4.5)
    grid, _ = drawing.redraw_view(services, MODEL_GRID, shown, {**sel, "kind": DECODER}, "light", None)
    assert "· decoder ·" in grid.layout.title.text
    # seq2seq computes no sensitivity and no logit lens
    assert [v for v in VIEWS if not v.applies(analysis)] == [SENSITIVITY, LOGIT_LENS]
    # no generated steps, no logit lens
    assert [v for v in VIEWS if not v.applies(synthetic_analysis())] == [STEPS, LOGIT_LENS]


def test_cards_and_switches_show_only_where_they_apply():
    judged = [view for view in VIEWS if view.applies is not always]
    assert judged == [STEPS, SENSITIVITY, LOGIT_LENS]
    services, _view, shown = _shown(seq2seq_analysis())
    steps, sensitivity, lens, kind_switch, pair_filter = drawing.visibility(services, shown, judged)
    assert (steps, sensitivity, lens, kind_switch, pair_filter) == ({}, HIDDEN, HIDDEN, {}, HIDDEN)
    services, _view, shown = _shown(synthetic_analysis())
    assert drawing.visibility(services, shown, judged) == [HIDDEN, {}, HIDDEN, HIDDEN, HIDDEN]
    assert drawing.visibility(services, None, judged) == [HIDDEN] * 5  # nothing on show yet
