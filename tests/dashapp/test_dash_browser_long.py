"""512 tokens in headless Chromium: the truncation notice, the graph's labelled window and its minimap,
downsampled heatmaps that zoom to full resolution, and how long a click takes to update every view
(measured with the Performance API and printed, never asserted: wall-clock time is for benchmarks)."""

from __future__ import annotations

import itertools
import re

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from dashapp.figures.tokens import readable_tokens
from interp.schema import AnalysisRequest
from tests.dashapp.test_dash_browser import WAIT, shot, texts, title_of, wait_for, wait_title
from tests.tiny_models import CORPUS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LONG_TEXT = " ".join(" ".join(CORPUS * 6).split()[:600])  # about 640 tokens: more than BERT's 512
FAST = ("grad_norm", "grad_x_input", "attention_rollout")  # no sensitivity: 512² of it takes a minute here

# Starts the clock at the next mousedown; stops it at the first frame where every view shows the newly
# selected token (not arguments[0], the one selected before): its window, its outline, its focus.
MEASURE = """
window.__updated = null;
const done = () => {
  const title = id => (document.querySelector('#' + id + ' .gtitle') || {}).textContent || '';
  const buttons = [...document.querySelectorAll('.token-strip button')];
  const token = buttons.findIndex(b => b.className.includes('token-selected'));
  const start = Math.min(Math.max(0, token - 20), buttons.length - 40);
  const band = `tokens ${start}–${start + 39} of`;
  return token >= 0 && token !== arguments[0]
    && title('analyze-attention-graph').includes(band) && title('analyze-head-view').includes(band)
    && title('analyze-token-focus').includes('#' + token)
    && document.querySelectorAll('#analyze-heatmap .shapelayer path').length === 2;
};
document.addEventListener('mousedown', () => {
  const start = performance.now();
  const check = () => done() ? (window.__updated = performance.now() - start) : requestAnimationFrame(check);
  requestAnimationFrame(check);
}, {once: true, capture: true});
"""


def _selected(browser) -> int | None:
    index = browser.execute_script(
        "return [...document.querySelectorAll('.token-strip button')]"
        ".findIndex(b => b.className.includes('token-selected'));"
    )
    return None if index < 0 else index


def _rects(browser, css: str) -> list[dict]:
    """Every match's box, read in one script: a redraw between reads would leave stale elements."""
    return browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => {"
        " const r = e.getBoundingClientRect(); return {y: r.y, height: r.height}; });",
        css,
    )


def _measured_click(browser, element, what: str) -> int:
    """Click element() (looked up at the click: a redraw may have replaced it); print how long until every
    view showed the new selection; return the token.

    The views' own checks follow in the test: each waits for itself, so a failure names the view."""
    before = _selected(browser)
    browser.execute_script(MEASURE, before)
    ActionChains(browser).move_to_element(element()).click().perform()
    token = wait_for(browser, lambda d: (t := _selected(d)) is not None and t != before and t)
    start = min(max(0, token - 20), 512 - 40)
    for graph in ("analyze-attention-graph", "analyze-head-view"):
        wait_title(browser, graph, f"tokens {start}–{start + 39} of 512")
    wait_title(browser, "analyze-token-focus", f"#{token}")
    wait_for(
        browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#analyze-heatmap .shapelayer path")) == 2
    )
    ms = wait_for(browser, lambda d: d.execute_script("return window.__updated;"), timeout=30)
    print(f"\n512 tokens, {what}: click → every view updated in {ms:.0f} ms (Chromium, Performance API)")
    return token


def test_512_tokens_stay_readable_and_a_click_updates_every_view(live_app, browser, screenshots):
    request = AnalysisRequest(model="tiny-bert-long", task="sst", text=LONG_TEXT, methods=FAST)
    submission = live_app.executor.submit(request)
    if submission.job_id:
        assert live_app.executor.wait(submission.job_id, timeout=WAIT).state == "done"
    analysis = live_app.executor.result(submission.key)
    assert analysis.n_tokens == 512 and analysis.tokens_before_truncation > 512
    browser.get(f"{live_app.url}/analysis/{submission.key}")

    dropped = analysis.tokens_before_truncation - 512
    notice = f"kept 512 of {analysis.tokens_before_truncation} tokens ({dropped} dropped)"
    wait_for(browser, lambda d: notice in d.find_element(By.ID, "analyze-badge").text)

    # the graph: 40 labelled tokens (no overlapping labels), a minimap of all 512, a bounded height
    wait_title(browser, "analyze-attention-graph", "tokens 0–39 of 512")
    labels = _rects(browser, "#analyze-attention-graph .scatterlayer .textpoint")
    assert len(labels) == 80  # both columns
    tops = sorted(label["y"] for label in labels[:40])
    assert min(b - a for a, b in itertools.pairwise(tops)) >= 12  # a 12 px font: one label per line
    graph = browser.find_element(By.ID, "analyze-attention-graph")
    assert graph.size["height"] <= 900
    minimap = "#analyze-attention-graph .barlayer .point"
    assert len(browser.find_elements(By.CSS_SELECTOR, minimap)) == 512

    # the heatmap: blocks of 3 × 3 tokens, their max
    assert "3×3 block max" in wait_title(browser, "analyze-heatmap", "layer 0")

    # clicking the minimap selects its token and moves the window there; every view follows
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", graph)
    token = _measured_click(
        browser, lambda: browser.find_elements(By.CSS_SELECTOR, minimap)[300], "a minimap click"
    )
    assert abs(token - 300) <= 100, token  # a bar is 1.4 px tall: a token near the one aimed at
    start = token - 20
    assert f"tokens {start}–{start + 39} of 512" in title_of(browser, "analyze-attention-graph")
    labels = texts(browser, "#analyze-attention-graph .scatterlayer .textpoint")
    assert labels[20] == readable_tokens(analysis)[token], (  # as shown: "##en" reads "·en"
        token,
        labels[15:25],
        analysis.tokens[token - 5 : token + 5],
        title_of(browser, "analyze-attention-graph"),
    )
    # the selected token's mark on the minimap: a few pixels tall where its bar is 1.4, centred on the bar
    for view in ("analyze-attention-graph", "analyze-head-view"):
        bar = _rects(browser, f"#{view} .barlayer .point")[token]
        marks = [shape for shape in _rects(browser, f"#{view} .shapelayer path") if 5 <= shape["height"] <= 8]
        assert len(marks) == 1, view
        assert abs(marks[0]["y"] + marks[0]["height"] / 2 - (bar["y"] + bar["height"] / 2)) <= 1.5, view

    # a token button far away: the window follows it
    button = lambda: browser.find_elements(By.CSS_SELECTOR, ".token-strip button")[100]  # noqa: E731
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", button())
    assert _measured_click(browser, button, "a token button click") == 100
    assert "tokens 80–119 of 512" in title_of(browser, "analyze-head-view")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", graph)
    shot(browser, screenshots / "long-analyze.png")

    # zooming the heatmap redraws the zoomed range at full resolution (plotly's own relayout event)
    browser.execute_script(
        "Plotly.relayout(document.querySelector('#analyze-heatmap .js-plotly-plot'),"
        " {'xaxis.range': [199.5, 259.5], 'yaxis.range': [259.5, 199.5]});"
    )
    assert "full resolution" in wait_title(browser, "analyze-heatmap", "rows 200–259, columns 200–259")
    ticks = texts(browser, "#analyze-heatmap .ytick text")
    assert ticks and all(re.match(r"2[0-5]\d ", t) for t in ticks), ticks


def test_compare_says_each_model_kept_how_many_tokens(live_app, browser, screenshots):
    # Two 64-position models: a 512-token job computes every layer's sensitivity first (a minute or more
    # on a shared machine); the Analyze test above shows the 512-token notice.
    browser.get(f"{live_app.url}/compare?task=sst&models=tiny-bert-sst,tiny-distilbert-sst")
    wait_for(browser, lambda d: d.find_elements(By.ID, "compare-run"))
    browser.execute_script(
        "const box = document.getElementById('compare-text');"
        "const set = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set;"
        "set.call(box, arguments[0]); box.dispatchEvent(new Event('input', {bubbles: true}));",
        LONG_TEXT,
    )
    browser.find_element(By.ID, "compare-run").click()
    notices = wait_for(
        browser, lambda d: len(found := texts(d, ".compare-column .truncation-notice")) == 2 and found
    )
    assert all(re.fullmatch(r"truncated: kept 64 of \d+ tokens \(\d+ dropped\)", n) for n in notices), notices
    shot(browser, screenshots / "long-compare.png")
