"""Issue 14's Analyze page in headless Chromium: switching the attention kind of a seq2seq analysis, clicking a
generated token, the layer/head filters of a link, and views hidden where they do not apply."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.dashapp.test_dash_browser import click_point, shot, texts, title_of, wait_for, wait_title

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEQ2SEQ = "model=tiny-bart&task=seq2seq&text=the+cat+sat+on+the+mat&pair=a+cat+sat"
GRAPH_DATA = "return document.querySelector('#{}' + ' .js-plotly-plot').data"


def query(driver) -> dict[str, list[str]]:
    return parse_qs(urlparse(driver.current_url).query)


def visible(driver, element_id: str) -> bool:
    return driver.find_element(By.ID, element_id).is_displayed()


def markers(driver, graph_id: str) -> list[int]:
    """How many tokens each side of a query → key graph has (its two marker traces)."""
    data = driver.execute_script(GRAPH_DATA.format(graph_id))
    return [len(t["x"]) for t in data if t.get("mode", "").startswith("markers")]


def test_switching_the_attention_kind_of_a_seq2seq_analysis(live_app, browser, screenshots):
    browser.get(f"{live_app.url}/?{SEQ2SEQ}")
    wait_title(browser, "analyze-heatmap", "encoder")
    wait_for(browser, lambda d: visible(d, "analyze-kind-group"))
    assert not visible(browser, "analyze-sensitivity-card")  # seq2seq computes no sensitivity
    source = markers(browser, "analyze-attention-graph")
    assert source[0] == source[1]

    browser.find_element(By.XPATH, "//*[@id='analyze-kind']//label[starts-with(text(), 'Cross')]").click()
    wait_title(browser, "analyze-heatmap", "cross-attention")
    wait_title(browser, "analyze-attention-graph", "cross-attention")
    wait_title(browser, "analyze-model-grid", "cross-attention")
    wait_for(browser, lambda d: query(d).get("kind") == ["cross"])
    # a bipartite graph: target (decoder) tokens on the left, the source tokens on the right
    targets, sources = wait_for(
        browser, lambda d: (m := markers(d, "analyze-attention-graph"))[0] != m[1] and m
    )
    assert sources == source[0] and targets > 1
    heat = browser.execute_script(GRAPH_DATA.format("analyze-heatmap"))[0]
    assert (len(heat["y"]), len(heat["x"])) == (targets, sources)

    # a click on a decoder token of the graph selects its step: the step strip and saliency follow
    point = browser.find_elements(By.CSS_SELECTOR, "#analyze-attention-graph .scatterlayer .trace .point")
    left = [p for p in point if p.location["x"] < point[-1].location["x"]]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", left[1])

    def click_second(driver) -> bool:
        pts = driver.find_elements(By.CSS_SELECTOR, "#analyze-attention-graph .scatterlayer .trace .point")
        first = min(p.location["x"] for p in pts)
        ActionChains(driver).move_to_element(
            [p for p in pts if p.location["x"] == first][1]
        ).click().perform()
        return query(driver).get("step") == ["1"]

    wait_for(browser, click_second, timeout=60)
    wait_title(browser, "analyze-steps", "step 1")
    wait_title(browser, "analyze-saliency", "(step 1)")

    browser.find_element(By.XPATH, "//*[@id='analyze-kind']//label[starts-with(text(), 'Decoder')]").click()
    wait_title(browser, "analyze-heatmap", "decoder")
    decoder = browser.execute_script(GRAPH_DATA.format("analyze-heatmap"))[0]
    assert len(decoder["x"]) == len(decoder["y"]) == targets
    shot(browser, screenshots / "kinds.png")


def test_clicking_a_generated_token_selects_its_step_everywhere(live_app, browser):
    browser.get(f"{live_app.url}/?model=tiny-gpt2&task=causal-lm&text=the+cat+sat&generate=3")
    wait_title(browser, "analyze-steps", "Generated tokens")
    assert browser.find_element(By.ID, "analyze-generate").get_attribute("value") == "3"
    click_point(browser, "#analyze-steps .point", 1, lambda d: "step 1" in title_of(d, "analyze-steps"))
    wait_title(browser, "analyze-saliency", "(step 1)")
    row = int(wait_for(browser, lambda d: query(d).get("token"))[0])  # the token whose row predicted it
    # the prompt's tokens, then the 3 generated: step 1 was predicted at the prompt's length
    assert query(browser)["step"] == ["1"] and row == len(markers_of_strip(browser)) - 3
    wait_title(browser, "analyze-token-focus", f"#{row}")
    shapes = wait_for(
        browser,
        lambda d: d.execute_script(
            "return document.querySelector('#analyze-heatmap .js-plotly-plot').layout.shapes"
        ),
    )
    assert shapes[0]["y0"] == row - 0.5  # the heatmap's row that predicted the step is outlined
    # generation stores q/k too: the neuron view explains the row that predicted the step
    wait_title(browser, "analyze-neuron-view", "Neuron view · layer 0")


def markers_of_strip(driver) -> list:
    return driver.find_elements(By.CSS_SELECTOR, "#analyze-token-strip button")


def test_a_link_limits_the_overview_and_head_view_and_a_plain_analysis_has_no_steps(live_app, browser):
    browser.get(
        f"{live_app.url}/?model=tiny-bert-mlm&task=mlm&text=a+cat+sat+on+the+%5BMASK%5D&layers=1&heads=1,3"
    )
    wait_title(browser, "analyze-model-grid", "Model overview")
    wait_for(browser, lambda d: texts(d, "#analyze-model-grid .xtick text") == ["h1", "h3"])
    assert texts(browser, "#analyze-model-grid .ytick text") == ["L1"]
    wait_title(browser, "analyze-head-view", "heads 1, 3")
    wait_for(browser, lambda d: texts(d, "#analyze-head-view .legend .legendtext") == ["head 1", "head 3"])
    assert query(browser)["layers"] == ["1"] and query(browser)["heads"] == ["1,3"]
    # the dropdowns show the link's choices
    assert "h1" in browser.find_element(By.ID, "analyze-include-heads").text
    # the steps card and the kind switch: nothing to show for a plain analysis
    assert not visible(browser, "analyze-steps-card") and not visible(browser, "analyze-kind-group")
    assert not visible(browser, "analyze-pair-filter-group")  # one sentence
