"""What a new team member trips over (issue 13), as plain functions: sharing, first run, mask moves, stale
views, readable tokens, the saliency method, smaller things. The browser side is test_dash_browser_ux.py."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from dashapp import ids
from dashapp.figures.common import graph_config
from dashapp.pages.analyze import drawing, selecting
from dashapp.selection import parse_view_options
from dashapp.services import Services
from dashapp.views import VIEWS
from tests.dashapp.fakes import FakeExecutor
from tests.dashapp.synthetic import synthetic_analysis

SELECTION = {"layer": 2, "head": 1, "token": 3, "method": "grad_norm"}


@pytest.fixture
def ex() -> FakeExecutor:
    return FakeExecutor()


@pytest.fixture
def services(ex) -> Services:
    return Services(ex)


# --- 2. sharing ------------------------------------------------------------------------------------


def test_no_figure_offers_the_cloud():
    config = graph_config("heatmap")
    assert config["showSendToCloud"] is False and config["plotlyServerURL"] == ""
    assert config["showLink"] is False and config["showEditInChartStudio"] is False
    assert "sendChartToCloud" in config["modeBarButtonsToRemove"]


def test_the_report_offers_no_cloud_either(services, ex):
    key = ex.put(synthetic_analysis())
    report = drawing.export(services, ids.EXPORT_HTML, {"key": key, "final": True}, SELECTION, None, {})["content"]
    assert report.count('"showSendToCloud": false') == sum(view.in_report for view in VIEWS)
    assert report.count("Plotly.newPlot") == report.count('"showSendToCloud": false')


def test_copy_link_carries_the_whole_view():
    shown = {"key": "ab" * 32, "final": True}
    named = {"top_k": 5, "threshold": 0.1, "theme": "dark"}
    link = selecting.share_link(shown, SELECTION, named)
    parsed = urlparse(link)
    assert parsed.path == f"/analysis/{'ab' * 32}"
    assert parse_qs(parsed.query) == {"layer": ["2"], "head": ["1"], "token": ["3"], "method": ["grad_norm"],
                                      "top_k": ["5"], "threshold": ["0.1"], "theme": ["dark"]}
    assert selecting.share_link({**shown, "final": False}, SELECTION, named) is None  # nothing final to share
    assert selecting.share_link(None, SELECTION, named) is None
    job = {"request": {"model": "m", "task": "mlm", "text": "a [MASK]"}}
    assert "top_k=5" in selecting.url_query(shown, job, SELECTION, named)  # the address bar carries the same


def test_a_link_s_view_options_are_read_with_care():
    assert parse_view_options({"top_k": "5", "threshold": "0.25", "theme": "dark"}) == {
        "top_k": 5, "threshold": 0.25, "theme": "dark"}
    assert parse_view_options({"top_k": "99", "threshold": "nan", "theme": "neon"}) == {}
    assert parse_view_options({"top_k": ["2", "4"], "junk": "1"}) == {"top_k": 4}
