"""A view is one declaration: a View added to the list reaches layout, callbacks, clicks and report."""

from __future__ import annotations

import dash
import plotly.graph_objects as go
import pytest
from dash import no_update

from dashapp import ids
from dashapp.pages.analyze import callbacks, drawing, layout, selecting
from dashapp.selection import default_selection
from dashapp.services import Services
from dashapp.views import VIEWS, View
from tests.dashapp.fakes import FakeExecutor
from tests.dashapp.synthetic import synthetic_analysis


def _count_figure(analysis, selection, theme):
    return go.Figure(
        go.Bar(x=[analysis.n_tokens]),
        layout={
            "title": {"text": f"tokencountview-{analysis.n_tokens}-L{selection['layer']}"},
            "template": "plotly_dark" if theme == "dark" else None,
        },
    )


COUNT = View(
    "token-count",
    "Token count",
    _count_figure,
    depends_on=("layer",),
    width=6,
    in_report=True,
    on_click=lambda sel, point: {**sel, "layer": int(point["x"])},
    image_name="count",
)
WITH_COUNT = (*VIEWS, COUNT)


def _ids(component) -> list:
    """Every component id in a layout tree."""
    found = [getattr(component, "id", None)]
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            found += _ids(child)
    return [i for i in found if i is not None]


def _find(component, component_id):
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if (
            child is not None
            and hasattr(child, "to_plotly_json")
            and (hit := _find(child, component_id)) is not None
        ):
            return hit
    return None


@pytest.fixture
def shown_and_services():
    ex = FakeExecutor()
    key = ex.put(synthetic_analysis())
    return {"key": key, "final": True}, Services(ex)


def test_a_declared_view_gets_a_card_a_store_and_an_image_name(tiny_registry):
    form = layout.initial_form("tiny-bert-mlm", "mlm", "a [MASK]", None, None)
    page = layout.page(form, None, default_selection(), WITH_COUNT)
    found = _ids(page)
    assert COUNT.id == "analyze-token-count" and COUNT.id in found and ids.drawn(COUNT.id) in found
    assert _find(page, COUNT.id).config["toImageButtonOptions"]["filename"] == "interpboard-count"
    assert all(view.id in found and ids.drawn(view.id) in found for view in VIEWS)
    assert COUNT.id not in _ids(
        layout.layout(model="tiny-bert-mlm", task="mlm")
    )  # the page's own list: VIEWS


def test_a_declared_view_gets_its_callbacks():
    app = dash.Dash(__name__)
    callbacks.wire(app, Services(FakeExecutor()), WITH_COUNT)
    outputs = " ".join(app.callback_map)
    assert (
        f"{COUNT.id}.figure" in outputs
        and f"{ids.drawn(COUNT.id)}.data" in outputs
        and f"{COUNT.id}.config" in outputs
    )
    selecting = [cb for out, cb in app.callback_map.items() if out.startswith(f"..{ids.SELECTION}.data")]
    assert any({"id": COUNT.id, "property": "clickData"} in cb["inputs"] for cb in selecting)


def test_a_declared_view_redraws_follows_clicks_and_joins_the_report(shown_and_services):
    shown, services = shown_and_services
    sel = default_selection()
    figure, drawn = drawing.redraw_view(services, COUNT, shown, sel, "light", None)
    assert figure.layout.title.text.startswith("tokencountview-") and figure.layout.title.text.endswith("-L0")
    assert drawing.redraw_view(services, COUNT, shown, {**sel, "token": 2}, "light", drawn) == (
        no_update,
        no_update,
    )
    clicked = selecting.update_selection(sel, COUNT.id, {"points": [{"x": 2}]}, WITH_COUNT)
    assert clicked["layer"] == 2
    assert drawing.redraw_view(services, COUNT, shown, clicked, "light", drawn)[0].layout.title.text.endswith(
        "-L2"
    )
    options = {ids.EDGE_TOP_K: 3, ids.EDGE_THRESHOLD: 0}
    report = drawing.export(services, ids.EXPORT_HTML, shown, sel, None, options, WITH_COUNT)["content"]
    assert "tokencountview-" in report
    assert (
        "tokencountview-"
        not in drawing.export(services, ids.EXPORT_HTML, shown, sel, None, options)["content"]
    )
