"""Long inputs on the page: the truncation notice, windowed graphs, downsampled heatmaps that zoom."""

from __future__ import annotations

import pytest

from dashapp.figures.attention_graph import attention_graph_figure
from dashapp.figures.common import HIGHLIGHT, escape
from dashapp.figures.head_view import head_view_figure
from dashapp.figures.window import WINDOW_ROWS
from dashapp.pages import components as ui
from dashapp.views import token_of_point
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
    # every query of the window has its edges; no other query's own edges are sent
    sources = {i for i, _ in _lines(fig)}
    assert set(range(280, 320)) <= sources
    minimap = next(t for t in fig.data if t.type == "bar")
    assert list(minimap.customdata) == list(range(n)) and minimap.marker.color[300] == HIGHLIGHT
    # clicking the minimap selects its token, which moves the window
    selection = token_of_point({"token": 300}, {"customdata": 10})
    assert list(_queries(figure(selection["token"])).customdata) == list(range(0, WINDOW_ROWS))
    assert list(_queries(figure(n - 1)).customdata)[-1] == n - 1


def test_the_graph_keeps_far_edges_into_the_selected_token():
    analysis = synthetic_analysis(n_words=200, layers=1, heads=1)
    analysis.attention[0, 0, 150, :] = 0
    analysis.attention[0, 0, 150, 5] = 1  # token 150 attends only to token 5, far outside 5's window
    edges = _lines(attention_graph_figure(analysis, 0, 0, 5, top_k=1))
    assert (150, 5) in edges and all(5 in e or 0 <= e[0] < WINDOW_ROWS for e in edges)


def test_a_short_input_has_no_window_and_no_minimap():
    analysis = synthetic_analysis()
    for fig in (attention_graph_figure(analysis, 0, None, 2), head_view_figure(analysis, 0, token=2)):
        assert list(_queries(fig).customdata) == list(range(analysis.n_tokens))
        assert not any(t.type == "bar" for t in fig.data)
