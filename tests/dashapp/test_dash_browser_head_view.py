"""The head view in headless Chromium: a legend entry per head that hides it, pair filters in the link."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.by import By

from tests.dashapp.test_dash_browser import shot, texts, wait_for, wait_title

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAIR_LINK = "model=tiny-bert-mnli&task=mnli&text=a+man+plays+a+guitar&pair=a+person+makes+music"


def test_head_view_toggles_heads_in_the_browser_and_filters_sentence_pairs(live_app, browser, screenshots):
    browser.get(f"{live_app.url}/?{PAIR_LINK}&layer=1")
    wait_title(browser, "analyze-head-view", "Head view", "layer 1", "All")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#analyze-head-view .legend .traces"))
    # read inside the wait: a stage's redraw may replace the legend under the reader
    wait_for(browser, lambda d: texts(d, "#analyze-head-view .legend .legendtext")[:1] == ["head 0"])
    wait_for(browser, lambda d: d.find_element(By.ID, "analyze-share").is_displayed())  # the final analysis
    card = browser.find_element(By.ID, "analyze-head-view")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", card)
    shot(card, screenshots / "head-view.png")

    # a legend click hides the head in plotly.js itself: the title (drawn by the server) stays
    toggle = browser.find_elements(By.CSS_SELECTOR, "#analyze-head-view .legend .legendtoggle")[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", toggle)
    toggle.click()
    wait_for(
        browser,
        lambda d: (
            d.find_elements(By.CSS_SELECTOR, "#analyze-head-view .legend .traces")[0].value_of_css_property(
                "opacity"
            )
            == "0.5"
        ),
    )

    # one sentence-pair filter above the views, for the head view, the graph and the heatmap
    pair = browser.find_element(By.XPATH, "//*[@id='analyze-pair-filter']//label[text()='A→B']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", pair)
    wait_title(browser, "analyze-head-view", "A→B")
    wait_title(browser, "analyze-heatmap", "A→B")
    wait_for(browser, lambda d: parse_qs(urlparse(d.current_url).query).get("pair_filter") == ["AB"])
