"""Not committed: the final screenshots for the report."""
import time
from pathlib import Path
from urllib.parse import quote

from selenium.webdriver.common.by import By

from tests.dashapp.test_dash_browser import run_analysis, texts, wait_for, wait_title
from tests.dashapp.test_dash_browser_ux import set_theme

SHOTS = Path("/work/agents/shots")
SHORT = "the quick brown fox jumps over the lazy [MASK] ."
LONG = ("the movie was great and the acting was wonderful but the plot made no sense , "
        "a man is playing a guitar on the street while children are playing football in the garden "
        "and she went to the store to buy some bread and [MASK] .")


def full(driver, name):
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(height + 40, 6000))
    time.sleep(1.5)
    driver.save_screenshot(str(SHOTS / name))
    driver.set_window_size(1280, 900)


def test_shots(live_app, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for theme in ("light", "dark"):
        for name, text, model in (("short", SHORT, "tiny-roberta-mlm"), ("long", LONG, "tiny-bert-mlm")):
            run_analysis(browser, live_app.url, text.replace("[MASK]", "<mask>") if "roberta" in model else text,
                         model=model)
            set_theme(browser, theme)
            browser.find_elements(By.CSS_SELECTOR, ".token-strip button")[3].click()
            wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".token-strip .token-selected"))
            print(name, "tokens:", len(texts(browser, ".token-strip button")))
            time.sleep(2)
            full(browser, f"analyze-{name}-{theme}.png")
        set_theme(browser, "light")
    # stale view
    run_analysis(browser, live_app.url, "the cat sat on the [MASK] .")
    box = browser.find_element(By.ID, "analyze-text")
    box.send_keys(" and more")
    wait_for(browser, lambda d: "views-stale" in (d.find_element(By.ID, "analyze-views").get_attribute("class") or ""))
    browser.save_screenshot(str(SHOTS / "analyze-stale-light.png"))
    # compare, MNLI: the pair box says Hypothesis
    browser.get(f"{live_app.url}/compare?task=mnli&models=tiny-bert-mnli,tiny-roberta-mnli"
                f"&text={quote('a man is playing a guitar')}&pair={quote('a person makes music')}")
    wait_title(browser, "compare-diff", "tiny-bert-mnli vs tiny-roberta-mnli")
    time.sleep(2)
    full(browser, "compare-mnli-light.png")
    set_theme(browser, "dark")
    browser.get(f"{live_app.url}/compare?task=mlm&models=tiny-bert-mlm,tiny-roberta-mlm&text={quote(SHORT)}")
    wait_title(browser, "compare-diff", "tiny-bert-mlm vs tiny-roberta-mlm")
    time.sleep(2)
    full(browser, "compare-mlm-dark.png")
    set_theme(browser, "light")
