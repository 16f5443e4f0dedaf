"""The pages at a desktop width (1280 px) and a phone width (390 px): every column of a
five-variation run can be brought into view whole, nothing makes the page itself scroll
sideways, and screenshots are saved under test-artifacts/web/ for people to look at."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from .browser import screenshot, set_viewport, wait_until
from .pages import RunPage


@pytest.fixture(scope="module")
def finished_run(web):
    run_id = web.start_run("protocol=1 lines=24 v3.exit=4 "
                           "v3.fail=Rate%20limited%20after%2010%20retries", variations=5,
                           variation_configs=[{"model": "claude-sonnet-4-5"},
                                              {"model": "claude-haiku-4-5", "max_turns": 20},
                                              {"model": "claude-opus-4-1", "effort": "high",
                                               "prompt": OWN_PROMPT}])
    web.wait_finished(run_id)
    web.server.post(f"/runs/{run_id}/select", {"winning_variation_id": 1})
    return run_id


# A prompt of its own, long: the board cuts it to one line (whole on hover and focus).
OWN_PROMPT = ("protocol=1 lines=24 say=a%20prompt%20of%20its%20own "
              "and many more words that would make the comparison board wider than a screen")


def page_scrolls_sideways(driver) -> bool:
    return driver.execute_script(
        "return document.documentElement.scrollWidth > window.innerWidth")


@pytest.mark.parametrize("width", [1280, 390])
def test_every_column_is_reachable(browser, web, finished_run, width):
    set_viewport(browser, width, 900 if width > 600 else 844)
    browser.get(web.page(f"/runs/{finished_run}"))
    page = RunPage(browser)
    page.wait_status("completed")
    page.wait_diffs([0, 1, 2, 4])
    wait_until(browser, lambda d: page.failure(3))
    screenshot(browser, f"run-{width}")
    assert not page_scrolls_sideways(browser)
    # The board too fits whole: every column at a desktop width, cards on a phone.
    wait_until(browser, "document.querySelectorAll('.board-table tbody tr').length === 5")
    assert browser.execute_script(
        "const s = document.querySelector('.board-scroll');"
        "return s.scrollWidth - s.clientWidth") <= 0
    prompt = browser.find_element(By.CSS_SELECTOR, ".board-row[data-variation='2'] .board-prompt")
    if width == 1280:
        assert prompt.get_attribute("title") == OWN_PROMPT   # whole on hover
        cut = "return arguments[0].scrollWidth > arguments[0].clientWidth"
        assert prompt.size["width"] < 200 and browser.execute_script(cut, prompt)
        browser.execute_script("arguments[0].focus()", prompt)   # and whole on focus
        assert not browser.execute_script(cut, prompt)
        browser.execute_script("arguments[0].blur()", prompt)
    else:
        assert not prompt.is_displayed()   # not on a card: what decides only

    for index in range(5):
        browser.find_elements(By.CSS_SELECTOR, ".column-nav .chip")[index].click()
        column = page.column(index)
        rect = wait_until(browser, lambda d: d.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return r.left >= -1 && r.right <= window.innerWidth + 1 ? r : null", column),
            5, f"column {index} cannot be brought into view at {width} px")
        assert rect["width"] >= 300, rect
        assert column.find_element(By.CLASS_NAME, "transcript").is_displayed()
    assert not page_scrolls_sideways(browser)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_form_and_the_list_fit(browser, web, finished_run, width):
    set_viewport(browser, width, 900 if width > 600 else 844)
    browser.get(web.page("/"))
    browser.find_element(By.ID, "github_url").send_keys("https://example.com/not/github")
    browser.find_element(By.ID, "prompt").send_keys("Make the README friendlier.")
    browser.find_element(By.CSS_SELECTOR, "#agent-settings > summary").click()
    browser.find_element(By.ID, "per-variation").click()
    browser.find_element(By.ID, "start-run").click()
    wait_until(browser, "document.querySelector('.field-error')")
    assert not page_scrolls_sideways(browser)
    screenshot(browser, f"new-run-{width}")

    browser.get(web.page("/runs"))
    wait_until(browser, f"document.querySelector('tr[data-run-id=\"{finished_run}\"]')")
    assert not page_scrolls_sideways(browser)
    screenshot(browser, f"runs-{width}")
