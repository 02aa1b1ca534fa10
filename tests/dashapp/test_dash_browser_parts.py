"""Parts in headless Chromium: a layer whose sensitivity is offered (over a tiny part budget) shows its
estimate and a button; the button computes it and the heatmap appears without a reload."""

from __future__ import annotations

import os
import threading
import time

import pytest
from selenium.webdriver.common.by import By

from interp.schema import AnalysisRequest
from tests.dashapp.test_dash_browser import wait_for, wait_title
from workers.job_status import Focus

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Long-ish for a tiny model (about 100 tokens), every method.
LONG = AnalysisRequest(
    model="tiny-bert-sst",
    task="sst",
    text=" ".join(["the movie was great and the actors were good but the story was slow"] * 7),
)


@pytest.fixture(scope="module")
def parts_app(tiny_registry, tmp_path_factory):
    """The real app over an embedded executor whose part budget no part fits: every part is offered."""
    from werkzeug.serving import make_server

    from dashapp.app import create_app
    from interp.settings import settings
    from tests.dashapp.conftest import LiveApp
    from workers.executor import EmbeddedExecutor
    from workers.settings import Settings

    os.environ["INTERPBOARD_PART_BUDGET_S"] = "1e-9"
    settings.cache_clear()
    executor = EmbeddedExecutor(Settings(cache=str(tmp_path_factory.mktemp("parts-cache")), broker=None))
    server = make_server("127.0.0.1", 0, create_app(executor=executor).server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="dash-parts-server", daemon=True)
    thread.start()
    try:
        yield LiveApp(f"http://127.0.0.1:{server.server_port}", executor)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        executor.close()
        del os.environ["INTERPBOARD_PART_BUDGET_S"]
        settings.cache_clear()


# Which graphs Plotly draws anew from now on (dcc.Graph draws a new figure with Plotly.react).
REDRAWS = """
window.__redrawn = [];
const react = window.Plotly.react;
window.Plotly.react = function (gd) {
  const id = gd.closest('.dash-graph').id;
  if (!window.__redrawn.includes(id)) { window.__redrawn.push(id); }
  return react.apply(this, arguments);
};
"""


def note(driver) -> str:
    found = driver.find_elements(By.ID, "analyze-part-note-sensitivity")
    return found[0].text if found else ""


def choose_layer(driver, layer: int) -> None:
    """Through the Layer dropdown, as a user would."""
    driver.find_element(By.ID, "analyze-layer").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[role=option]"))
    [option] = [
        o for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]") if o.text == f"layer {layer}"
    ]
    option.click()


def test_an_offered_layer_is_computed_on_request_and_shows_without_reload(parts_app, browser, screenshots):
    sub = parts_app.executor.submit(LONG, focus=Focus(layer=0))
    assert parts_app.executor.wait(sub.job_id, timeout=180).state == "done"
    states = parts_app.executor.part_states(sub.key)
    assert states["sensitivity.1"]["state"] == "offered" and states["sensitivity.1"]["estimate_s"] > 0

    browser.get(f"{parts_app.url}/analysis/{sub.key}?layer=0")
    assert "layer 0 sensitivity" in wait_for(browser, lambda d: "not computed" in note(d) and note(d))
    choose_layer(browser, 1)
    offered = wait_for(browser, lambda d: "layer 1" in note(d) and note(d))
    assert "< 1 s" in offered and "not computed" in offered  # the estimate, before any work
    button = browser.find_element(By.ID, "analyze-part-button-sensitivity")
    assert button.is_displayed() and button.text == "Compute layer 1 sensitivity"
    browser.save_screenshot(str(screenshots / "parts-offered.png"))
    marker = browser.execute_script("window.__same_page = true; return true")  # a reload would drop it
    browser.execute_script(REDRAWS)
    browser.execute_script("arguments[0].click()", button)

    wait_title(browser, "analyze-sensitivity", "layer 1")  # landed, drawn
    assert browser.execute_script("return window.__same_page === true") is marker
    time.sleep(2)  # every callback the landing set off has answered
    assert browser.execute_script("return window.__redrawn") == ["analyze-sensitivity"]  # the others stay
    wait_for(browser, lambda d: note(d) == "")  # nothing missing any more
    assert parts_app.executor.part_states(sub.key)["sensitivity.1"]["state"] == "done"
    assert parts_app.executor.part_states(sub.key)["sensitivity.2"]["state"] == "offered"
    choose_layer(browser, 0)  # still offered: the button again
    wait_for(browser, lambda d: "layer 0" in note(d))
    assert browser.find_element(By.ID, "analyze-part-button-sensitivity").is_displayed()
    time.sleep(0.2)
    browser.save_screenshot(str(screenshots / "parts-landed.png"))
