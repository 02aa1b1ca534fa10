"""Parts in headless Chromium: a layer whose sensitivity is offered (over a tiny part budget) shows its
estimate and a button; the button computes it and the heatmap appears without a reload. A running part's
cancel stops its job: "cancelling…" at once, then the part is offered again."""

from __future__ import annotations

import os
import threading
import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from dashapp.figures.sensitivity import seconds_text
from interp.schema import AnalysisRequest
from tests.dashapp.test_dash_browser import shot, wait_for, wait_title
from tests.workers.support import SLOW_IG
from tests.workers.support import wait_for as wait_for_job
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


def note(driver, view: str = "sensitivity") -> str:
    found = driver.find_elements(By.ID, f"analyze-part-note-{view}")
    return found[0].text if found else ""


def shown(driver, element_id: str) -> bool:
    found = driver.find_elements(By.ID, element_id)
    return bool(found) and found[0].is_displayed()


def method_choices(driver) -> list[str]:
    """The saliency method menu's choices, as a user opening it sees them."""
    driver.find_element(By.ID, "analyze-method").click()
    found = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[role=option]"))
    choices = [option.text for option in found]
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    return choices


# Every text the saliency part note takes from now on (a state the next poll replaces is still seen).
WATCH_NOTE = """
window.__notes = [];
const note = document.getElementById('analyze-part-note-saliency');
new MutationObserver(() => window.__notes.push(note.textContent))
    .observe(note, {childList: true, characterData: true, subtree: true});
"""


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
    shot(browser, screenshots / "parts-offered.png")
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
    shot(browser, screenshots / "parts-landed.png")


def test_a_running_part_is_cancelled_from_its_bar(parts_app, browser, screenshots):
    sub = parts_app.executor.submit(SLOW_IG)
    assert parts_app.executor.wait(sub.job_id, timeout=180).state == "done"
    part = "saliency.integrated_gradients"
    assert parts_app.executor.part_states(sub.key)[part]["state"] == "offered"

    browser.get(f"{parts_app.url}/analysis/{sub.key}?method=integrated_gradients")
    wait_for(browser, lambda d: "not computed" in note(d, "saliency"))
    choices = method_choices(browser)  # IG is a part of its own: offered with its estimate
    assert [c for c in choices if c.startswith("integrated gradients")] == [
        f"integrated gradients · on request {seconds_text(parts_app.executor.part_states(sub.key)[part]['estimate_s'])}"
    ], choices
    assert not shown(browser, "analyze-part-cancel-saliency")  # nothing runs: nothing to cancel
    compute = browser.find_element(By.ID, "analyze-part-button-saliency")
    browser.execute_script("arguments[0].click()", compute)

    wait_for(browser, lambda d: "running" in note(d, "saliency"))
    [job] = parts_app.executor.part_jobs(sub.key, [part]).values()
    cancel = wait_for(
        browser,
        lambda d: (
            shown(d, "analyze-part-cancel-saliency") and d.find_element(By.ID, "analyze-part-cancel-saliency")
        ),
    )
    assert not shown(browser, "analyze-part-button-saliency")
    shot(browser, screenshots / "parts-running.png")
    browser.execute_script(WATCH_NOTE)
    browser.execute_script("arguments[0].click()", cancel)

    # the job really ends, cancelled, and stores nothing; the bar offers the part again, with no alarm
    assert parts_app.executor.wait(job.job_id, timeout=180).state == "cancelled"
    wait_for(browser, lambda d: "not computed" in note(d, "saliency"))
    assert shown(browser, "analyze-part-button-saliency")
    assert not shown(browser, "analyze-part-cancel-saliency")
    seen = browser.execute_script("return window.__notes")
    assert any("cancelling…" in text for text in seen), seen  # said at once, before the job had ended
    assert parts_app.executor.part_states(sub.key)[part]["state"] == "offered"
    assert parts_app.executor.store.stored_parts(sub.key, [part]) == []
    assert not browser.find_element(By.ID, "analyze-alert").text


def test_the_method_menu_offers_only_the_methods_the_analysis_holds(parts_app, browser, screenshots):
    # No integrated gradients asked for: not in the analysis, nor a part of it; a link naming it falls back
    request = SLOW_IG.with_(methods=("grad_norm", "grad_x_input"))
    sub = parts_app.executor.submit(request)
    assert parts_app.executor.wait(sub.job_id, timeout=180).state == "done"
    browser.get(f"{parts_app.url}/analysis/{sub.key}?method=integrated_gradients")
    saliency = lambda d: d.find_element(By.ID, "analyze-saliency").text  # noqa: E731
    wait_for(browser, lambda d: "▶ gradient norm" in saliency(d))  # the first method it holds is chosen
    assert method_choices(browser) == ["gradient norm", "gradient × input"]
    assert "integrated gradients" not in saliency(browser)
    assert note(browser, "saliency") == "" and not shown(browser, "analyze-part-button-saliency")
    wait_for(browser, lambda d: "method=grad_norm" in d.current_url, timeout=10)  # the link follows the menu
    shot(browser, screenshots / "parts-methods-held.png")


def test_a_part_job_the_page_did_not_ask_for_is_followed_to_its_end(parts_app, browser):
    request = SLOW_IG.with_(ig_steps=999)  # a key of its own
    part = "saliency.integrated_gradients"
    sub = parts_app.executor.submit(request)
    assert parts_app.executor.wait(sub.job_id, timeout=180).state == "done"
    [job] = parts_app.executor.request_parts(
        request, [part]
    )  # someone else asks (or this page, before a reload)
    assert not wait_for_job(
        parts_app.executor, job.job_id, lambda s: s.finished or s.state == "running"
    ).finished

    browser.get(f"{parts_app.url}/analysis/{sub.key}?method=integrated_gradients")
    wait_for(browser, lambda d: "running" in note(d, "saliency"))
    assert shown(browser, "analyze-part-cancel-saliency")
    assert parts_app.executor.cancel(job.job_id)  # not from this page: it follows the job all the same
    wait_for(browser, lambda d: "not computed" in note(d, "saliency"))
    assert shown(browser, "analyze-part-button-saliency") and not shown(
        browser, "analyze-part-cancel-saliency"
    )
