"""The head view (BertViz): every head of a layer, one colour and legend group per head, pair filters."""

from __future__ import annotations

import numpy as np
import pytest
from dash import no_update

from dashapp import ids
from dashapp.figures.common import HIGHLIGHT
from dashapp.figures.head_view import TOP_K, head_color, head_view_figure
from dashapp.figures.pairs import PAIR_FILTERS
from dashapp.pages.analyze import drawing, selecting
from dashapp.selection import VIEW_OPTION_CHOICES, default_selection, parse_view_options, query_string
from dashapp.services import Services
from dashapp.views import HEAD_VIEW, VIEWS
from tests.dashapp.fakes import FakeExecutor
from tests.dashapp.synthetic import synthetic_analysis


def _edges(fig) -> dict[str, set[tuple[int, int]]]:
    """{legend group: its (query, key) edges} read back from the line traces."""
    found: dict[str, set[tuple[int, int]]] = {}
    for trace in fig.data:
        if getattr(trace, "mode", None) != "lines":
            continue
        ys = [y for y in trace.y]
        pairs = {(-ys[k], -ys[k + 1]) for k in range(0, len(ys), 3)}
        found.setdefault(trace.legendgroup, set()).update(pairs)
    return found


def test_every_head_is_a_legend_group_with_its_own_colour_and_its_strongest_edges():
    analysis = synthetic_analysis(layers=2, heads=4)
    fig = head_view_figure(analysis, 1)
    edges = _edges(fig)
    assert sorted(edges) == [f"head {h}" for h in range(4)]
    for trace in fig.data:
        if trace.mode == "lines":
            assert trace.line.color == head_color(int(trace.legendgroup.split()[1]))
    # one legend entry per head: the legend toggles the whole group in the browser
    assert sorted(t.name for t in fig.data if t.showlegend) == [f"head {h}" for h in range(4)]
    assert fig.layout.legend.itemclick == "toggle"
    n = analysis.n_tokens
    for head in range(4):
        matrix = analysis.attention[1, head]
        expected = {(i, int(j)) for i in range(n) for j in np.argsort(-matrix[i])[:TOP_K]}
        assert edges[f"head {head}"] == expected


def test_hovering_a_token_lists_its_strongest_key_in_each_head():
    analysis = synthetic_analysis(heads=3)
    markers = [t for t in head_view_figure(analysis, 0).data if t.mode == "markers+text"]
    queries = markers[0]
    top = analysis.attention[0, 2, 1].argmax()
    assert (
        "head 2 → " in queries.hovertext[1]
        and f"({analysis.attention[0, 2, 1, top]:.2f})" in (queries.hovertext[1])
    )
    assert "%{hovertext}" in queries.hovertemplate and list(queries.customdata) == list(
        range(analysis.n_tokens)
    )


def _pair_analysis():
    analysis = synthetic_analysis(n_words=6, task="mnli")
    n = analysis.n_tokens
    analysis.token_segments = [0] * (n // 2) + [1] * (n - n // 2)
    return analysis


@pytest.mark.parametrize("pair, query_segment, key_segment", [("AA", 0, 0), ("AB", 0, 1), ("BA", 1, 0)])
def test_pair_filters_keep_only_edges_between_the_chosen_sentences(pair, query_segment, key_segment):
    analysis = _pair_analysis()
    segments = analysis.token_segments
    edges = set().union(*_edges(head_view_figure(analysis, 0, pair)).values())
    assert edges and all(segments[i] == query_segment and segments[j] == key_segment for i, j in edges)
    everything = set().union(*_edges(head_view_figure(analysis, 0, "all")).values())
    assert edges < everything


def test_a_link_carries_the_pair_filter():
    assert set(VIEW_OPTION_CHOICES["pair_filter"]) == set(PAIR_FILTERS)
    assert parse_view_options({"pair_filter": ["AB"]}) == {"pair_filter": "AB"}
    assert parse_view_options({"pair_filter": ["<b>"]}) == {}
    assert "pair_filter=BA" in query_string(None, default_selection(), {"pair_filter": "BA", "top_k": 3})
    assert "pair_filter" not in query_string(None, default_selection(), {"pair_filter": "all", "top_k": 3})


def test_a_one_sentence_input_says_there_is_no_sentence_b():
    fig = head_view_figure(synthetic_analysis(), 0, "BB")
    assert "one sentence" in fig.layout.annotations[0].text
    assert _edges(head_view_figure(synthetic_analysis(), 0, "AA"))


def test_the_head_view_is_on_the_page_follows_the_layer_and_selects_a_clicked_token():
    assert HEAD_VIEW in VIEWS and HEAD_VIEW.id == ids.HEAD_VIEW
    ex = FakeExecutor()
    shown = {"key": ex.put(_pair_analysis()), "final": True}
    services = Services(ex)
    sel = default_selection()
    fig, drawn = drawing.redraw_view(
        services, HEAD_VIEW, shown, {**sel, "layer": 2}, "light", None, pair_filter="AB"
    )
    assert "layer 2" in fig.layout.title.text and "A→B" in fig.layout.title.text
    # a token click marks the token (and moves the window of a long input); the same click again sends nothing
    marked, drawn = drawing.redraw_view(
        services, HEAD_VIEW, shown, {**sel, "layer": 2, "token": 3}, "light", drawn, pair_filter="AB"
    )
    queries = next(t for t in marked.data if getattr(t, "mode", None) == "markers+text")
    assert queries.marker.color[3] == HIGHLIGHT and queries.marker.color[2] != HIGHLIGHT
    unchanged = drawing.redraw_view(
        services, HEAD_VIEW, shown, {**sel, "layer": 2, "token": 3}, "light", drawn, pair_filter="AB"
    )
    assert unchanged == (no_update, no_update)
    clicked = selecting.update_selection(sel, HEAD_VIEW.id, {"points": [{"customdata": 4}]})
    assert clicked["token"] == 4
