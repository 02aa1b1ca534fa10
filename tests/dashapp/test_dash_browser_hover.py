"""Hovering a token of the attention graph or head view in headless Chromium: only its lines show, drawn by the
browser itself (assets/hover_lines.js), with no request to the server."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.dashapp.test_dash_browser import wait_for, wait_title

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LINES = (
    "return document.querySelector('#{} .js-plotly-plot').data"
    ".filter(t => t.mode === 'lines').reduce((n, t) => n + t.y.length, 0)"
)


def visible(driver, element_id: str) -> bool:
    return driver.find_element(By.ID, element_id).is_displayed()


@pytest.mark.parametrize("graph", ["analyze-attention-graph", "analyze-head-view"])
def test_hovering_a_token_shows_only_its_lines_without_the_server(live_app, browser, graph):
    browser.get(f"{live_app.url}/?model=tiny-bert-mlm&task=mlm&text=the+cat+sat+on+the+%5BMASK%5D+.")
    wait_title(browser, graph, "layer 0")
    wait_for(browser, lambda d: visible(d, "analyze-share"))  # the final analysis: no redraw to come
    card = browser.find_element(By.ID, graph)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", card)
    every = browser.execute_script(LINES.format(graph))
    requests = []  # the browser's resource count before the hover that shows the token's lines

    def hover_third_query(driver) -> int | None:
        """Onto a query token, whose top-k edges always show (again until only they show: a late redraw may
        take the first hover)."""
        requests[:] = [driver.execute_script("return performance.getEntriesByType('resource').length")]
        points = driver.find_elements(
            By.CSS_SELECTOR, f"#{graph} .scatterlayer .trace:nth-last-child(2) .point"
        )
        ActionChains(driver).move_to_element(points[1]).pause(0.3).move_to_element(points[2]).pause(
            0.5
        ).perform()
        lines = driver.execute_script(LINES.format(graph))
        return lines if lines < every else None

    fewer = wait_for(browser, hover_third_query, timeout=60)
    assert fewer > 0  # the lines into that token stay, the others are gone
    ActionChains(browser).move_to_element(browser.find_element(By.CSS_SELECTOR, ".navbar")).perform()
    wait_for(browser, lambda d: d.execute_script(LINES.format(graph)) == every)
    # no request reached the server for it (the clientside callback's store is in the browser)
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').slice(arguments[0])"
        ".filter(e => e.name.includes('_dash-update-component')).length",
        requests[0],
    )
    assert fetched == 0
