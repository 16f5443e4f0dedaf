"""The runs list: newest first, with status, variation count and winner, a page at a time
through the API's cursor."""
from __future__ import annotations

from selenium.webdriver.common.by import By

from .browser import wait_until

PAGE = 20   # runs per page the list asks for (static/js/runs-list.js)


def shown(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#runs tbody tr')].map(r => r.dataset.runId)")


def listed_by_api(web) -> list[str]:
    ids, cursor = [], None
    while True:
        page = web.server.get("/runs", params={"limit": 100, **({"cursor": cursor}
                                                                if cursor else {})}).json()
        ids += [r["run_id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids


def test_the_list_pages_through_every_run_newest_first(browser, web):
    while len(listed_by_api(web)) <= PAGE:
        web.start_run("lines=0", variations=1)
    newest = web.start_run("lines=0", variations=2)
    web.wait_finished(newest)
    web.server.post(f"/runs/{newest}/select", {"winning_variation_id": 1})
    expected = listed_by_api(web)

    browser.get(web.page("/runs"))
    wait_until(browser, lambda d: len(shown(d)) == PAGE)
    assert shown(browser) == expected[:PAGE]
    first = browser.find_element(By.CSS_SELECTOR, f'tr[data-run-id="{newest}"]')
    assert [c.text for c in first.find_elements(By.TAG_NAME, "td")[2:]] == [
        "Completed", "2", "Variation 1"]

    older = browser.find_element(By.ID, "more-runs")
    while older.is_displayed():
        count = len(shown(browser))
        older.click()
        wait_until(browser, lambda d: len(shown(d)) > count)
    assert shown(browser) == expected

    browser.execute_script("window.scrollTo(0, 0)")   # back up to the newest run
    first.find_element(By.CSS_SELECTOR, ".what > a").click()
    wait_until(browser, lambda d: d.current_url.endswith(f"/runs/{newest}"))
