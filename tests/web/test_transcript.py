"""Long transcripts: each column keeps a bounded number of entries in the DOM, earlier
ones stay reachable, and the view follows new output until the person scrolls up."""
from __future__ import annotations

from selenium.webdriver.common.by import By

from .browser import wait_until
from .pages import RunPage

CAP = 300   # entries per column in the DOM (static/js/transcript.js)


def at_bottom(page: RunPage, index: int) -> bool:
    return page.js("const b = arguments[0].querySelector('.transcript');"
                   "return b.scrollHeight - b.scrollTop - b.clientHeight <= 2",
                   page.column(index))


def test_a_long_transcript_keeps_the_dom_small_and_earlier_entries_reachable(browser, web):
    lines = 1200
    run_id = web.start_run(f"protocol=1 lines={lines}", variations=1)
    browser.get(web.page(f"/runs/{run_id}"))
    page = RunPage(browser)
    page.wait_status("completed")
    wait_until(browser, lambda d: page.stats(0) and page.steps(0)
               and page.steps(0)[-1] == lines - 1 and len(page.entries(0)) == CAP)
    assert at_bottom(page, 0)

    earlier = page.column(0).find_element(By.CLASS_NAME, "earlier")
    assert earlier.is_displayed() and "hidden" in earlier.text
    while earlier.is_displayed():
        shown = len(page.entries(0))
        earlier.click()
        wait_until(browser, lambda d: len(page.entries(0)) > shown)
    assert page.steps(0) == list(range(lines))
    assert page.column(0).find_element(By.CLASS_NAME, "to-latest").is_displayed()


def test_the_view_follows_new_output_until_the_person_scrolls_up(browser, web):
    run_id = web.start_run("protocol=1 lines=240 delay=0.02", variations=1)
    browser.get(web.page(f"/runs/{run_id}"))
    page = RunPage(browser)
    box = wait_until(browser, lambda d: d.find_element(By.CSS_SELECTOR,
                                                       '[data-variation="0"] .transcript'))
    wait_until(browser, lambda d: d.execute_script(
        "return arguments[0].scrollHeight > 2 * arguments[0].clientHeight", box), 20)
    assert at_bottom(page, 0)

    browser.execute_script("arguments[0].scrollTop = 40", box)
    shown = len(page.steps(0))
    wait_until(browser, lambda d: len(page.steps(0)) > shown + 10)
    assert browser.execute_script("return arguments[0].scrollTop", box) == 40
    latest = page.column(0).find_element(By.CLASS_NAME, "to-latest")
    assert latest.is_displayed()

    latest.click()
    assert at_bottom(page, 0) and not latest.is_displayed()
    page.wait_status("completed")
    wait_until(browser, lambda d: at_bottom(page, 0), 5, "stopped following")
