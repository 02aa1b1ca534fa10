"""The filters shared by the attention views: the sentence-pair filter (head view, graph, heatmap: one control)
and BertViz's include_layers / include_heads (model overview, head view), carried in the link."""

from __future__ import annotations

from urllib.parse import parse_qs

import numpy as np

from dashapp import ids
from dashapp.figures.attention_graph import attention_graph_figure
from dashapp.figures.head_view import head_view_figure
from dashapp.figures.heatmap import heatmap_figure
from dashapp.figures.model_grid import model_grid_figure
from dashapp.pages.analyze import callbacks, drawing, selecting
from dashapp.selection import clamp, default_selection, parse_selection, query_string
from dashapp.services import Services
from dashapp.views import ATTENTION_GRAPH, HEAD_VIEW, HEATMAP, MODEL_GRID, VIEWS
from tests.dashapp.fakes import FakeExecutor
from tests.dashapp.synthetic import synthetic_analysis


def _pair_analysis():
    analysis = synthetic_analysis(n_words=6, task="mnli")
    n = analysis.n_tokens
    analysis.token_segments = [0] * (n // 2) + [1] * (n - n // 2)
    return analysis


def test_one_pair_control_for_every_view_it_filters():
    filtered = [view for view in VIEWS if any(o.component_id == ids.PAIR_FILTER for o in view.options)]
    assert filtered == [ATTENTION_GRAPH, HEAD_VIEW, HEATMAP]
    assert callbacks.view_options(VIEWS)["pair_filter"] == ids.PAIR_FILTER


def test_the_heatmap_blanks_the_cells_outside_the_pair():
    analysis = _pair_analysis()
    segments = np.asarray(analysis.token_segments)
    z = np.asarray(heatmap_figure(analysis, 0, 1, pair="AB").data[0].z, dtype=float)
    keep = np.outer(segments == 0, segments == 1)
    assert np.isnan(z[~keep]).all()
    np.testing.assert_allclose(z[keep], analysis.attention[0, 1][keep], atol=1e-4)
    assert "A→B" in heatmap_figure(analysis, 0, 1, pair="AB").layout.title.text
    assert "one sentence" in heatmap_figure(synthetic_analysis(), 0, 1, pair="BB").layout.annotations[0].text


def test_the_graph_keeps_only_edges_between_the_chosen_sentences():
    analysis = _pair_analysis()
    segments = analysis.token_segments
    fig = attention_graph_figure(analysis, 0, None, top_k=3, pair="BA")
    edges = {(-t.y[k], -t.y[k + 1]) for t in fig.data if t.mode == "lines" for k in range(0, len(t.y), 3)}
    assert edges and all(segments[i] == 1 and segments[j] == 0 for i, j in edges)


def test_the_overview_and_head_view_include_only_the_chosen_layers_and_heads():
    analysis = synthetic_analysis(layers=3, heads=4)
    grid = model_grid_figure(analysis, layer=2, head=3, layers=[0, 2], heads=[1, 3])
    assert [list(c) for c in grid.data[1].customdata] == [[0, 1], [0, 3], [2, 1], [2, 3]]
    assert list(grid.layout.xaxis.ticktext) == ["h1", "h3"] and list(grid.layout.yaxis.ticktext) == [
        "L0",
        "L2",
    ]
    assert len(grid.layout.shapes) == 1  # the selected layer 2, head 3: the last cell
    step = (np.asarray(grid.data[0].z).shape[0] + 1) // 2  # a thumbnail and its gap
    assert (grid.layout.shapes[0].x0, grid.layout.shapes[0].y0) == (step - 0.5, step - 0.5)
    head = head_view_figure(analysis, 1, heads=[2])
    assert {t.legendgroup for t in head.data if t.mode == "lines"} == {"head 2"}
    assert "heads 2" in head.layout.title.text


def test_a_link_names_the_layers_and_heads_and_they_are_clamped_to_the_model():
    sel = parse_selection({"layers": ["0,2"], "heads": "3,1,1,x,-2"})
    assert (sel["layers"], sel["heads"]) == ([0, 2], [1, 3])
    query = query_string(None, sel)
    assert "layers=0,2" in query and "heads=1,3" in query
    assert parse_selection(parse_qs(query[1:]))["heads"] == [1, 3]
    clamped = clamp({**sel, "layers": [0, 7], "heads": [9]}, synthetic_analysis(layers=3, heads=4))
    assert (clamped["layers"], clamped["heads"]) == ([0], None)
    picked = selecting.update_selection(default_selection(), ids.INCLUDE_HEADS, [3, 0])
    assert (
        picked["heads"] == [0, 3]
        and selecting.update_selection(picked, ids.INCLUDE_HEADS, [])["heads"] is None
    )
    assert selecting.control_values(picked)[-2:] == ([], [0, 3])


def test_the_overview_redraws_when_the_heads_change():
    ex = FakeExecutor()
    shown = {"key": ex.put(synthetic_analysis(layers=3, heads=4)), "final": True}
    services = Services(ex)
    sel = default_selection()
    whole, drawn = drawing.redraw_view(services, MODEL_GRID, shown, sel, "light", None)
    assert len(whole.data[1].customdata) == 12
    few, _ = drawing.redraw_view(services, MODEL_GRID, shown, {**sel, "heads": [0]}, "light", drawn)
    assert len(few.data[1].customdata) == 3
