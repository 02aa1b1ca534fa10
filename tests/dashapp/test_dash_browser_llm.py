"""A decoder LLM's analysis in headless Chromium: the logit lens linked to the layer selection, and the
shared key/value heads and sliding-window layers named in the selectors and the model overview."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.by import By

from tests.dashapp.test_dash_browser import click_point, shot, title_of, wait_for, wait_title
from tests.dashapp.test_dash_browser_ux import set_theme

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEXT = "the quick brown fox jumps over the lazy"


def computed_key(live_app, model: str) -> str:
    from interp.schema import AnalysisRequest

    submission = live_app.executor.submit(AnalysisRequest(model, "causal-lm", TEXT, methods=("grad_norm",)))
    if submission.job_id:
        assert live_app.executor.wait(submission.job_id, timeout=180).state == "done"
    return submission.key


def test_a_click_on_a_logit_lens_row_selects_its_layer(live_app, browser, screenshots):
    key = computed_key(live_app, "tiny-gemma2")  # GQA, a sliding-window layer, soft-caps
    browser.get(f"{live_app.url}/analysis/{key}?layer=1&head=2")
    wait_title(browser, "analyze-logit-lens", "layer 1 selected", "soft-capped at 2")
    wait_title(browser, "analyze-heatmap", "layer 1")
    # the lens's rows are the layers, the last one the model's own output; the sliding layer says its window
    ticks = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#analyze-logit-lens .ytick")]
    assert ticks == ["L0 · w4", "L1 = output"]
    # the selectors name the key/value head and the window
    assert "head 2 · kv 1" in browser.find_element(By.ID, "analyze-head").text
    assert "layer 1 · global" in browser.find_element(By.ID, "analyze-layer").text
    grid = wait_title(browser, "analyze-model-grid", "Model overview")
    assert "4 query heads share 2 key/value heads" in grid and "layer 0 sliding-window (4 tokens)" in grid

    lens = browser.find_element(By.ID, "analyze-logit-lens")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", lens)
    # the target's bar of layer 0
    click_point(
        browser,
        "#analyze-logit-lens .bars .point",
        0,
        lambda d: "layer 0 selected" in title_of(d, "analyze-logit-lens"),
    )
    wait_title(browser, "analyze-heatmap", "layer 0")
    wait_for(browser, lambda d: parse_qs(urlparse(d.current_url).query).get("layer") == ["0"])
    assert "layer 0 · sliding 4" in browser.find_element(By.ID, "analyze-layer").text
    for theme in ("light", "dark"):
        browser.get(f"{live_app.url}/analysis/{key}?layer=0&head=2")  # at the top, where the theme switch is
        set_theme(browser, theme)
        wait_title(browser, "analyze-logit-lens", "layer 0 selected")
        lens = browser.find_element(By.ID, "analyze-logit-lens")
        scroll = (
            "arguments[0].scrollIntoView({block: 'start'}); return arguments[0].getBoundingClientRect().top;"
        )
        wait_for(
            browser, lambda d, s=scroll, e=lens: abs(d.execute_script(s, e)) < 50
        )  # again while cards above grow
        shot(browser, screenshots / f"logit-lens-{theme}.png")
    browser.get(f"{live_app.url}/analysis/{key}")
    set_theme(browser, "light")


def test_an_analysis_without_a_logit_lens_has_no_logit_lens_card(live_app, browser):
    from interp.schema import AnalysisRequest

    submission = live_app.executor.submit(AnalysisRequest("tiny-bert-sst", "sst", "a fine film", methods=()))
    if submission.job_id:
        live_app.executor.wait(submission.job_id, timeout=180)
    browser.get(f"{live_app.url}/analysis/{submission.key}")
    wait_title(browser, "analyze-heatmap", "layer 0")
    # View.applies: a classifier has no vocabulary head to read layers through, so no card
    wait_for(browser, lambda d: not d.find_element(By.ID, "analyze-logit-lens").is_displayed())
