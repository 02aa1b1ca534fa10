"""The target-token strip of a seq2seq analysis in headless Chromium: a click explains that step, and the
predictions follow it (that step's top-k)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.by import By

from dashapp.figures.predictions import at_step
from dashapp.figures.tokens import readable_predictions
from interp.schema import AnalysisRequest
from tests.dashapp.test_dash_browser import click_point, shot, texts, title_of, wait_for, wait_title
from workers.executor import request_key

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_clicking_a_target_token_explains_that_step(live_app, browser, screenshots):
    browser.get(f"{live_app.url}/?model=tiny-bart&task=seq2seq&text=the+cat+sat+down&pair=a+cat+sat")
    wait_title(browser, "analyze-steps", "Target tokens")
    wait_title(browser, "analyze-saliency", "Saliency")
    analysis = live_app.executor.result(
        request_key(
            AnalysisRequest(model="tiny-bart", task="seq2seq", text="the cat sat down", pair="a cat sat")
        )
    )
    expected = [readable_predictions(at_step(analysis, step)[0]) for step in (0, 1)]
    assert expected[0] != expected[1] or analysis.steps[0] != analysis.steps[1]
    wait_title(browser, "analyze-predictions", "target step 0")
    assert sorted(texts(browser, "#analyze-predictions .ytick text")) == sorted(expected[0])
    click_point(browser, "#analyze-steps .point", 1, lambda d: "step 1" in title_of(d, "analyze-steps"))
    wait_title(browser, "analyze-saliency", "(step 1)")
    wait_title(browser, "analyze-predictions", "target step 1")  # the top-k at the selected target token
    assert sorted(texts(browser, "#analyze-predictions .ytick text")) == sorted(expected[1])
    wait_for(browser, lambda d: parse_qs(urlparse(d.current_url).query).get("step") == ["1"])
    strip = browser.find_element(By.ID, "analyze-steps")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", strip)
    shot(browser, screenshots / "steps.png")
