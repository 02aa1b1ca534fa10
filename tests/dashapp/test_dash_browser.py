"""End to end in headless Chromium: the real app, the embedded executor, tiny real models."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, quote, urlparse

import numpy as np
import pytest
from selenium.common.exceptions import (
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from dashapp.alignment import candidate_words
from interp.schema import AnalysisRequest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT = 180  # seconds: a cold tiny model computes everything in a few, but CI machines are shared
SENTENCE = "the cat sat on the [MASK] ."


def wait_for(driver, condition, timeout: float = WAIT):
    """Until `condition(driver)` is truthy; elements a re-render replaces meanwhile are looked up again."""
    ignored = (NoSuchElementException, StaleElementReferenceException, NoAlertPresentException)
    return WebDriverWait(driver, timeout, poll_frequency=0.2, ignored_exceptions=ignored).until(condition)


def shot(target, path) -> None:
    """A screenshot of the page (a driver) or of one element. Chromium gives its renderer 10 s to paint one
    and a busy machine can miss that: it is an artifact to look at, not a check, so it is tried again."""
    take = target.save_screenshot if hasattr(target, "save_screenshot") else target.screenshot
    for attempt in range(3):
        try:
            take(str(path))
            return
        except TimeoutException:
            if attempt == 2:
                raise


def texts(driver, css: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def title_of(driver, graph_id: str) -> str:
    found = texts(driver, f"#{graph_id} .gtitle")
    return found[0] if found else ""


def wait_title(driver, graph_id: str, *parts: str) -> str:
    """The graph's title once it holds every part (read inside the wait: a redraw may replace it)."""

    def complete(d) -> str | None:
        title = title_of(d, graph_id)
        return title if all(p in title for p in parts) else None

    return wait_for(driver, complete)


def click_point(driver, css: str, index: int, landed) -> None:
    """Click the `index`th plotly point matching `css` until `landed(driver)`: plotly's drag layer takes the
    pointer, so a click at the point's pixel is a click on the point (again until it lands: a re-render may
    replace the point under the pointer)."""
    points = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, css))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", points[index])

    def click(d) -> bool:
        point = d.find_elements(By.CSS_SELECTOR, css)[index]
        ActionChains(d).move_to_element(point).pause(0.3).click().perform()
        return bool(landed(d))

    wait_for(driver, click, timeout=60)


def no_alert(driver) -> bool:
    try:
        _ = driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def type_into(driver, element_id: str, text: str) -> None:
    box = driver.find_element(By.ID, element_id)
    box.clear()
    box.send_keys(text)


def run_analysis(driver, base: str, text: str, model: str = "tiny-bert-mlm", task: str = "mlm") -> None:
    """Open the Analyze page on a model, type the text, press Run, wait for every view."""
    driver.get(f"{base}/?model={model}&task={task}&text=")
    wait_for(driver, lambda d: d.find_elements(By.ID, "analyze-run"))
    type_into(driver, "analyze-text", text)
    driver.find_element(By.ID, "analyze-run").click()
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".token-strip button")) > 3)
    wait_title(driver, "analyze-heatmap", "layer 0")
    wait_title(driver, "analyze-saliency", "Saliency")
    wait_title(driver, "analyze-sensitivity", "Attention sensitivity")


def cached_key(live_app, text: str, model: str = "tiny-bert-mlm", **fields) -> str:
    """Compute an analysis through the executor (not the UI) and return its key."""
    submission = live_app.executor.submit(AnalysisRequest(model=model, task="mlm", text=text, **fields))
    if submission.job_id:
        assert live_app.executor.wait(submission.job_id, timeout=WAIT).state == "done"
    return submission.key


def test_analyze_runs_and_views_follow_a_clicked_token(live_app, browser, screenshots):
    run_analysis(browser, live_app.url, SENTENCE)
    assert len(texts(browser, "#analyze-predictions .ytick")) >= 3  # top-k bars
    assert "cached" not in browser.find_element(By.ID, "analyze-badge").text

    tokens = browser.find_elements(By.CSS_SELECTOR, ".token-strip button")
    clicked = 3
    label = tokens[clicked].text
    tokens[clicked].click()
    wait_title(browser, "analyze-token-focus", f"#{clicked}")
    wait_for(
        browser, lambda d: "selected attends to" in d.find_element(By.ID, "analyze-attention-graph").text
    )
    assert "token-selected" in browser.find_elements(By.CSS_SELECTOR, ".token-strip button")[
        clicked
    ].get_attribute("class")
    wait_for(
        browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#analyze-heatmap .shapelayer path")) == 2
    )
    assert label in browser.find_element(By.ID, "analyze-token-focus").text
    wait_for(browser, lambda d: parse_qs(urlparse(d.current_url).query).get("token") == [str(clicked)])
    query = parse_qs(urlparse(browser.current_url).query)
    assert query["text"] == [SENTENCE] and query["model"] == ["tiny-bert-mlm"]
    shot(browser, screenshots / "analyze.png")

    # the address bar reproduces the view: same request (now cached), same selection, new layer/head
    browser.get(
        f"{live_app.url}/?{urlparse(browser.current_url).query}&layer=2&head=1"
    )  # repeated: the last wins
    wait_title(browser, "analyze-heatmap", "layer 2", "head 1")
    wait_title(browser, "analyze-token-focus", f"#{clicked}", "head 1")
    wait_for(browser, lambda d: "cached" in d.find_element(By.ID, "analyze-badge").text)


def test_history_opens_an_analysis_and_its_permalink(live_app, browser, screenshots):
    text = "a dog ran in the [MASK] ."
    key = cached_key(live_app, text)
    browser.get(f"{live_app.url}/history")
    wait_for(browser, lambda d: text in d.find_element(By.ID, "history-table").text)
    shot(browser, screenshots / "history.png")
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#history-table tr") if text in r.text)
    row.find_element(By.LINK_TEXT, "open").click()
    wait_for(browser, lambda d: urlparse(d.current_url).path == f"/analysis/{key}")
    wait_title(browser, "analyze-heatmap", "layer 0")
    assert browser.find_element(By.ID, "analyze-text").get_attribute("value") == text
    wait_for(browser, lambda d: "cached" in d.find_element(By.ID, "analyze-badge").text)

    browser.get(f"{live_app.url}/analysis/{key}?layer=1&head=2&token=2")
    wait_title(browser, "analyze-heatmap", "layer 1", "head 2")
    wait_title(browser, "analyze-token-focus", "#2")
    shot(browser, screenshots / "permalink.png")

    browser.get(f"{live_app.url}/analysis/{'0' * 64}")
    wait_for(browser, lambda d: "no cached analysis" in d.find_element(By.ID, "analyze-alert").text)


def luminance(css_color: str) -> float:
    """0 (black) … 1 (white) of a computed CSS colour, "rgb(r, g, b)" or "rgba(r, g, b, a)"."""
    r, g, b = (int(v) for v in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_dark_mode_history_table_is_readable(live_app, browser, screenshots):
    text = "a cow ate the [MASK] ."
    cached_key(live_app, text)
    browser.get(f"{live_app.url}/history")
    wait_for(browser, lambda d: text in d.find_element(By.ID, "history-table").text)
    browser.find_element(By.CSS_SELECTOR, "#theme-switch").click()
    try:
        wait_for(
            browser, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("data-bs-theme") == "dark"
        )
        cell = next(c for c in browser.find_elements(By.CSS_SELECTOR, "#history-table td") if c.text == text)
        style = browser.execute_script(
            "const s = getComputedStyle(arguments[0]); return [s.backgroundColor, s.color];", cell
        )
        assert luminance(style[0]) < 0.3 and luminance(style[1]) > 0.7, style  # light text on a dark table
        shot(browser, screenshots / "history-dark.png")
    finally:
        browser.find_element(By.CSS_SELECTOR, "#theme-switch").click()
        wait_for(
            browser, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("data-bs-theme") == "light"
        )


def test_history_deletes_after_confirmation(live_app, browser):
    text = "the bird sang in the [MASK] ."
    key = cached_key(live_app, text)
    browser.get(f"{live_app.url}/history")
    wait_for(browser, lambda d: text in d.find_element(By.ID, "history-table").text)
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#history-table tr") if text in r.text)
    row.find_element(By.CSS_SELECTOR, "input[type=radio]").click()
    browser.find_element(By.ID, "history-delete").click()
    wait_for(browser, lambda d: d.switch_to.alert).accept()  # the confirm dialog
    wait_for(browser, lambda d: text not in d.find_element(By.ID, "history-table").text)
    assert "deleted" in browser.find_element(By.ID, "history-alert").text
    assert live_app.executor.store.get_meta(key) is None


def test_compare_bert_and_roberta_on_a_mask(live_app, browser, screenshots):
    models = "tiny-bert-mlm,tiny-roberta-mlm"
    browser.get(f"{live_app.url}/compare?task=mlm&models={models}&text={quote(SENTENCE)}")
    wait_for(browser, lambda d: d.find_elements(By.ID, "compare-run"))
    browser.find_element(By.ID, "compare-run").click()
    wait_title(browser, "compare-diff", "tiny-bert-mlm vs tiny-roberta-mlm")
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".compare-column .js-plotly-plot")) == 6)
    headers = wait_for(browser, lambda d: texts(d, ".compare-column .card-header"))
    assert headers == models.split(",")
    # word level: the same whitespace words in both columns, whatever the tokenizer
    word_axes = wait_for(
        browser, lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, ".compare-column")]
    )
    # (the engine spells the mask word in each model's own way: "[MASK]" for BERT, "<mask>" for RoBERTa)
    assert all("per word" in text and re.search(r"5 (\[MASK\]|<mask>)", text) for text in word_axes), (
        word_axes
    )
    # the difference compares the same words: the union of both lists, each model's own probability
    analyses = [
        live_app.executor.result(cached_key(live_app, SENTENCE, model)) for model in models.split(",")
    ]
    words = list({p["label"].casefold(): p["label"] for a in analyses for p in a.predictions[::-1]}.values())
    scored = [
        live_app.executor.result(
            cached_key(live_app, SENTENCE, a.request.model, candidates=candidate_words(analyses), methods=())
        )
        for a in analyses
    ]
    assert sorted(map(str.casefold, candidate_words(analyses))) == sorted(map(str.casefold, words))
    bars = wait_for(
        browser,
        lambda d: d.execute_script(
            "const g = document.querySelector('#compare-diff .js-plotly-plot');"
            "return g && g.data.length === 2 && g.data[1].y.length ? [g.data[1].x, g.data[1].y] : null"
        ),
    )
    bert, roberta = ({s["word"]: s for s in a.candidate_scores} for a in scored)
    assert len(bars[0]) == len(words) == len(bert)
    for x, name, word in zip(*bars, candidate_words(analyses), strict=True):
        one_token = bert[word]["single_token"] and roberta[word]["single_token"]
        assert (x is None) == (not one_token) == ("not one token for" in name)
        if one_token:
            assert x == pytest.approx(bert[word]["score"] - roberta[word]["score"], abs=1e-4)
    assert any(x is not None for x in bars[0])  # words both vocabularies have: a real comparison
    shot(browser, screenshots / "compare.png")


def test_user_text_is_shown_as_text_never_run(live_app, browser, screenshots):
    hostile = "<script>alert(1)</script><b>x</b> the [MASK] ."
    run_analysis(browser, live_app.url, hostile)
    assert no_alert(browser)
    assert browser.find_element(By.ID, "analyze-text").get_attribute("value") == hostile
    assert not browser.find_elements(By.XPATH, "//b[normalize-space()='x']")
    browser.get(f"{live_app.url}/history")
    wait_for(browser, lambda d: hostile in d.find_element(By.ID, "history-table").text)
    assert no_alert(browser)
    assert not browser.find_elements(By.XPATH, "//b[normalize-space()='x']")
    assert not browser.find_elements(By.XPATH, "//script[contains(., 'alert(1)')]")
    shot(browser, screenshots / "escaping.png")


def test_a_shared_link_runs_a_pair_task(live_app, browser):
    query = "model=tiny-bert-mnli&task=mnli&text=a+man+plays+a+guitar&pair=a+person+makes+music&head=2"
    browser.get(f"{live_app.url}/?{query}")
    wait_title(browser, "analyze-heatmap", "layer 0", "head 2")
    assert browser.find_element(By.ID, "analyze-pair").is_displayed()
    labels = wait_for(browser, lambda d: texts(d, "#analyze-predictions .ytick"))
    assert sorted(labels) == ["contradiction", "entailment", "neutral"]
    assert (
        len(browser.find_elements(By.CSS_SELECTOR, ".token-strip button.token-special")) == 3
    )  # [CLS] … [SEP] … [SEP]


def test_exports_download_json_csv_npz_and_report(live_app, browser, downloads):
    text = "exports of the [MASK] ."
    key = cached_key(live_app, text)
    browser.get(f"{live_app.url}/analysis/{key}")
    wait_title(browser, "analyze-heatmap", "layer 0")
    for button, suffix in (
        ("export-json", ".json"),
        ("export-csv", ".csv"),
        ("export-npz", ".npz"),
        ("export-html", ".html"),
    ):
        browser.find_element(By.ID, button).click()
        found = wait_for(browser, lambda d, suffix=suffix: list(downloads.glob(f"*{key[:12]}{suffix}")))
        assert found[0].stat().st_size > 0
    saved = json.loads(next(downloads.glob(f"*{key[:12]}.json")).read_text())
    assert saved["key"] == key and saved["text"] == text and len(saved["attention"]) == 3
    assert np.load(next(downloads.glob(f"*{key[:12]}.npz")))["attention"].shape[:2] == (3, 4)
    assert "plotly" in next(downloads.glob(f"*{key[:12]}.html")).read_text()
