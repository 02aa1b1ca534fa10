"""The neuron view in headless Chromium: drawn from the stored q/k, a click on a key selects that token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.dashapp.test_dash_browser import shot, title_of, wait_for, wait_title

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LINK = "model=tiny-llama&task=causal-lm&text=the+quick+brown+fox+jumps+over&layer=1&head=3&token=5"
# The softmax bars (the figure's last trace) and their key labels, as plotly.js holds them.
BARS = "#analyze-neuron-view .x8y8 .barlayer .point"
WIDTHS_AND_LABELS = f"""
const plot = document.querySelector('#analyze-neuron-view .js-plotly-plot');
return [Array.from(document.querySelectorAll('{BARS}'), b => b.getBoundingClientRect().width),
        plot && plot.data && plot.data[4] ? plot.data[4].y : null];
"""


def _drawn(widths_and_labels):
    widths, labels = widths_and_labels
    return widths_and_labels if widths and labels and len(widths) == len(labels) else None


def test_neuron_view_clicking_a_key_selects_it(live_app, browser, screenshots):
    browser.get(f"{live_app.url}/?{LINK}")
    wait_title(browser, "analyze-neuron-view", "Neuron view", "layer 1", "head 3")
    # Widths and labels read in one script: a redraw between two reads would leave stale elements.
    widths, labels = wait_for(browser, lambda d: _drawn(d.execute_script(WIDTHS_AND_LABELS)))
    assert len(widths) == len(labels) == 6  # causal: token 5 sees tokens 0 to 5
    # the widest bar of a key other than the query (a bar too thin to hit would not take the click)
    key = max(range(5), key=lambda j: widths[j])
    expected = labels[key].split(" ", 1)[0]

    def click_key(driver) -> bool:  # again until it lands: a redraw may replace the bar under the pointer
        bar = driver.find_elements(By.CSS_SELECTOR, BARS)[key]
        ActionChains(driver).move_to_element(bar).pause(0.3).click().perform()
        return parse_qs(urlparse(driver.current_url).query).get("token") == [expected]

    wait_for(browser, click_key, timeout=60)
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, BARS)) == int(expected) + 1)
    assert "head 3" in title_of(browser, "analyze-neuron-view")
    # The screenshot once the page has settled: taken while later stages still redraw, the renderer
    # can miss Chromium's 10 s screenshot deadline on a loaded machine.
    card = browser.find_element(By.ID, "analyze-neuron-view")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", card)
    shot(card, screenshots / "neuron-view.png")
