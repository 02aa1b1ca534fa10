"""Long inputs on the page: the truncation notice, windowed graphs, downsampled heatmaps that zoom."""

from __future__ import annotations

import dash
import numpy as np
import pytest

from dashapp.figures.attention_graph import attention_graph_figure
from dashapp.figures.common import HIGHLIGHT, escape, token_labels
from dashapp.figures.head_view import head_view_figure
from dashapp.figures.heatmap import MAX_SIDE, block_max, heatmap_figure, zoom_range
from dashapp.figures.sensitivity import sensitivity_figure
from dashapp.figures.tokens import readable_tokens
from dashapp.figures.window import WINDOW_ROWS
from dashapp.figures.words import word_attention_figure
from dashapp.pages import components as ui
from dashapp.pages.analyze import callbacks
from dashapp.services import Services
from dashapp.views import VIEWS, token_of_point, token_of_row
from tests.dashapp.fakes import FakeExecutor
from tests.dashapp.synthetic import synthetic_analysis


def test_the_truncation_notice_says_how_many_tokens_were_kept_and_dropped():
    assert ui.truncation_text(False, 12, None) is None
    assert ui.truncation_text(True, 512, 740) == "truncated: kept 512 of 740 tokens (228 dropped)"
    assert "kept 64 tokens" in ui.truncation_text(True, 64, None)  # stored before the count was recorded
    badge = ui.result_badge(
        {"truncated": True, "tokens": ["a"] * 64, "tokens_before_truncation": 99}, True, "k"
    )
    assert "kept 64 of 99 tokens (35 dropped)" in str(badge)
    assert "dropped" not in str(ui.result_badge({"tokens": ["a"] * 6}, True, "k"))


def test_a_truncated_analysis_keeps_its_count_through_the_store():
    analysis = synthetic_analysis()
    analysis.truncated, analysis.tokens_before_truncation = True, 700
    again = type(analysis).from_record(*analysis.to_record())
    assert again.truncated and again.tokens_before_truncation == 700
    assert again.to_json()["tokens_before_truncation"] == 700


def _lines(fig) -> set[tuple[int, int]]:
    """(query, key) of every drawn edge."""
    found = set()
    for trace in fig.data:
        if getattr(trace, "mode", None) == "lines":
            ys = list(trace.y)
            found |= {(-ys[k], -ys[k + 1]) for k in range(0, len(ys), 3)}
    return found


def _queries(fig):
    return next(t for t in fig.data if getattr(t, "mode", None) == "markers+text")


@pytest.mark.parametrize("build", ["graph", "head view"])
def test_a_long_input_shows_a_labelled_window_around_the_token_and_a_minimap_of_all(build):
    analysis = synthetic_analysis(n_words=510, layers=2, heads=3)
    n = analysis.n_tokens
    figure = {
        "graph": lambda token: attention_graph_figure(analysis, 1, None, token, top_k=3),
        "head view": lambda token: head_view_figure(analysis, 1, "all", None, token),
    }[build]
    fig = figure(300)
    queries = _queries(fig)
    shown = list(queries.customdata)
    assert len(shown) == WINDOW_ROWS and shown[0] <= 300 <= shown[-1] and shown == list(range(280, 320))
    assert list(queries.text)[20] == escape(analysis.tokens[300])  # every token in the window is labelled
    assert queries.marker.color[20] == HIGHLIGHT
    assert fig.layout.height <= 900  # bounded: no 1,600 px column of dots
    assert tuple(fig.layout.yaxis.range) == (-319.5, -279.5)
    # each token's top 3 keys over the whole row, drawn where both ends are in the window, and the
    # selected token's own wherever they lead (its lines leave the view), and who attends to it from afar
    maps = [analysis.attention[1].mean(0)] if build == "graph" else list(analysis.attention[1])
    top = {(i, int(j)) for m in maps for i in range(n) for j in np.argsort(-m[i])[:3]}
    inside = range(280, 320)
    assert _lines(fig) == {(i, j) for i, j in top if (i in inside and j in inside) or 300 in (i, j)}
    assert any(i not in inside or j not in inside for i, j in _lines(fig))
    minimap = next(t for t in fig.data if t.type == "bar")
    assert list(minimap.customdata) == list(range(n)) and minimap.marker.color[300] == HIGHLIGHT
    # clicking the minimap selects its token, which moves the window
    selection = token_of_point({"token": 300}, {"customdata": 10})
    assert list(_queries(figure(selection["token"])).customdata) == list(range(0, WINDOW_ROWS))
    assert list(_queries(figure(n - 1)).customdata)[-1] == n - 1


@pytest.mark.parametrize("build", ["graph", "head view"])
def test_both_graph_views_keep_far_edges_into_the_selected_token(build):
    analysis = synthetic_analysis(n_words=200, layers=1, heads=1)
    analysis.attention[0, 0, 150, :] = 0
    analysis.attention[0, 0, 150, 5] = 1  # token 150 attends only to token 5, far outside 5's window
    fig = {
        "graph": lambda: attention_graph_figure(analysis, 0, 0, 5, top_k=1),
        "head view": lambda: head_view_figure(analysis, 0, "all", None, 5),
    }[build]()
    edges = _lines(fig)
    assert (150, 5) in edges and all(5 in e or 0 <= e[0] < WINDOW_ROWS for e in edges)


@pytest.mark.parametrize("build", ["graph", "head view"])
def test_the_minimap_marks_the_selected_token_at_least_a_few_pixels_tall(build):
    analysis = synthetic_analysis(n_words=510, layers=1, heads=2)
    fig = {
        "graph": lambda: attention_graph_figure(analysis, 0, None, 300, top_k=3),
        "head view": lambda: head_view_figure(analysis, 0, "all", None, 300),
    }[build]()
    [mark] = [s for s in fig.layout.shapes if s.ysizemode == "pixel"]
    assert mark.yref == "y2" and mark.yanchor == -300 and mark.y1 - mark.y0 >= 5
    assert mark.fillcolor == HIGHLIGHT


def test_a_short_input_has_no_window_and_no_minimap():
    analysis = synthetic_analysis()
    for fig in (attention_graph_figure(analysis, 0, None, 2), head_view_figure(analysis, 0, token=2)):
        assert list(_queries(fig).customdata) == list(range(analysis.n_tokens))
        assert not any(t.type == "bar" for t in fig.data)


def test_block_max_keeps_every_strong_cell():
    matrix = np.zeros((7, 7), dtype=np.float32)
    matrix[4, 6] = 0.9
    blocks = block_max(matrix, 3)
    assert (
        blocks.shape == (3, 3) and blocks[1, 2] == pytest.approx(0.9) and blocks.sum() == pytest.approx(0.9)
    )


@pytest.mark.parametrize("build", ["heatmap", "sensitivity"])
def test_a_long_map_is_downsampled_and_a_zoom_redraws_it_at_full_resolution(build):
    analysis = synthetic_analysis(n_words=510, layers=2, heads=2)
    matrix = analysis.attention[1, 0] if build == "heatmap" else analysis.attention_sensitivity[1]
    figure = {
        "heatmap": lambda zoom: heatmap_figure(analysis, 1, 0, 300, zoom=zoom),
        "sensitivity": lambda zoom: sensitivity_figure(analysis, 1, 300, zoom=zoom),
    }[build]
    whole = figure(None)
    z = np.asarray(whole.data[0].z)
    assert max(z.shape) <= MAX_SIDE and z.shape == (171, 171)  # 513 tokens in blocks of 3
    assert np.allclose(z[100, 50], matrix[300:303, 150:153].max(), atol=1e-4)  # the block's max, not its mean
    assert whole.data[0].x0 == 1 and whole.data[0].dx == 3
    assert "3×3 block max (zoom: full resolution)" in whole.layout.title.text
    assert len(whole.to_json()) < 400_000  # a 513² map at full resolution is 1.4 MB
    ticks = list(whole.layout.yaxis.ticktext)
    assert len(ticks) <= 40 and len(whole.layout.xaxis.ticktext) <= 20 and ticks[0] == "0 [CLS]"
    # plotly's relayoutData of a zoom on rows 290–330, columns 140–160 (y reversed: range[0] is the bottom)
    zoom = zoom_range(
        {"xaxis.range[0]": 139.6, "xaxis.range[1]": 160.4, "yaxis.range[0]": 330.2, "yaxis.range[1]": 289.5}
    )
    assert zoom == {"x": [139.6, 160.4], "y": [289.5, 330.2]}
    zoomed = figure(zoom)
    z = np.asarray(zoomed.data[0].z)
    assert z.shape == (41, 21) and zoomed.data[0].x0 == 140 and zoomed.data[0].y0 == 290
    assert np.allclose(z, matrix[290:331, 140:161], atol=1e-4)  # every cell, at full resolution
    assert "full resolution" in zoomed.layout.title.text and "rows 290–330" in zoomed.layout.title.text
    assert zoom_range({"xaxis.autorange": True, "yaxis.autorange": True}) is None
    assert zoom_range({"autosize": True}) is None
    # a click on a block selects a token of it
    assert token_of_row({"token": None}, {"y": 301, "x": 151})["token"] == 301
    assert token_of_row({"token": None}, {"y": 301.5, "x": 151})["token"] == 301


def test_a_short_map_is_unchanged_category_labels():
    analysis = synthetic_analysis()
    fig = heatmap_figure(analysis, 0, None, 2)
    assert (
        list(fig.data[0].y) == token_labels(readable_tokens(analysis)) and fig.layout.yaxis.type == "category"
    )


def test_a_zoomable_views_redraw_follows_its_zoom():
    app = dash.Dash(__name__)
    callbacks.wire(app, Services(FakeExecutor()), VIEWS)
    for view in VIEWS:
        redraw = next(
            cb
            for out, cb in app.callback_map.items()
            if f"{view.id}.figure" in out or f"{view.id}.children" in out
        )
        follows = {"id": view.id, "property": "relayoutData"} in redraw["inputs"]
        assert follows == (view.name in ("heatmap", "sensitivity")) == view.zoomable


def test_compares_word_map_is_downsampled_and_says_so_without_promising_a_zoom():
    analysis = synthetic_analysis(n_words=450, layers=1, heads=1)
    fig = word_attention_figure(analysis, 0)
    assert max(np.asarray(fig.data[0].z).shape) <= MAX_SIDE
    assert fig.layout.title.text.endswith("3×3 block max")
