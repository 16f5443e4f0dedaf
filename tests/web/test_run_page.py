"""The run page in a real browser: a run started from the form fills one column per
variation live, survives a reload with its whole history, shows the diffs and records
the winner through the API."""
from __future__ import annotations

import re

from selenium.webdriver.common.by import By

from .browser import screenshot, wait_until
from .conftest import REPO
from .pages import RunPage

LINES = 80


def fill_form(driver, prompt: str, variations: int, models: dict[int, str]) -> None:
    driver.find_element(By.ID, "github_url").send_keys(REPO)
    driver.find_element(By.ID, "prompt").send_keys(prompt)
    count = driver.find_element(By.ID, "variations")
    count.clear()
    count.send_keys(str(variations))
    driver.find_element(By.CSS_SELECTOR, "#agent-settings > summary").click()
    driver.find_element(By.ID, "per-variation").click()
    for index, model in models.items():
        driver.find_element(By.NAME, f"variation_configs.{index}.model").send_keys(model)


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", css)[:3])


def test_a_run_from_the_form_fills_live_survives_a_reload_and_records_the_winner(browser,
                                                                                 web):
    browser.get(web.page("/"))
    fill_form(browser, f"protocol=1 lines={LINES} delay=0.06", 3, {1: "claude-haiku-4-5"})
    browser.find_element(By.ID, "start-run").click()
    run_id = wait_until(browser, lambda d: (re.search(r"/runs/(run-[a-z0-9]+)$",
                                                      d.current_url) or [None, None])[1])
    page = RunPage(browser)
    wait_until(browser, lambda d: page.columns() == 3)
    detail = web.run(run_id)
    assert [v["config"]["model"] for v in detail["variations"]] == [
        "claude-sonnet-4-5", "claude-haiku-4-5", "claude-sonnet-4-5"]
    assert page.column(1).find_element(By.CLASS_NAME, "col-engine").text == \
        "claude-code · claude-haiku-4-5"

    # Every column fills while the run is live.
    wait_until(browser, lambda d: all(len(page.steps(i)) >= 6 for i in range(3)), 20,
               "the columns did not fill")
    assert web.run(run_id)["status"] == "running"
    assert page.status() == "running"
    assert page.text_of('[data-role="connection"]') == "Live"
    seen = {i: len(page.steps(i)) for i in range(3)}
    wait_until(browser, lambda d: all(len(page.steps(i)) > seen[i] for i in range(3)), 10,
               "the columns stopped filling")

    # Thinking is set apart from what the agent says; tool calls are compact lines that
    # open to show their input and result.
    assert page.entries(0, "thinking")[0] == "step 0: thinking about variation 0"
    assert page.entries(0, "text")[0] == "step 1: telling what variation 0 does"
    labels = browser.execute_script(
        "return ['thinking', 'text'].map(k => getComputedStyle(arguments[0].querySelector("
        "'.entry.' + k), '::before').content)", page.column(0))
    assert labels == ['"Thinking"', '"Says"']
    tool = page.column(0).find_element(By.CSS_SELECTOR, ".entry.tool")
    line = tool.find_element(By.CLASS_NAME, "tool-line")
    assert line.text.split() == ["Read", "src/step_2.py", "done"]
    assert not tool.find_elements(By.CLASS_NAME, "tool-detail")
    line.click()
    assert line.get_attribute("aria-expanded") == "true"
    detail_text = tool.find_element(By.CLASS_NAME, "tool-detail").text
    assert '"file_path": "src/step_2.py"' in detail_text
    assert "contents of src/step_2.py" in detail_text
    line.click()
    assert not tool.find_elements(By.CLASS_NAME, "tool-detail")

    # Reloaded mid-run, the page shows the whole history so far, once, then goes on.
    before = {i: max(page.steps(i)) for i in range(3)}
    assert web.run(run_id)["status"] == "running"
    browser.refresh()
    page = RunPage(browser)
    wait_until(browser, lambda d: all(page.steps(i) and max(page.steps(i)) >= before[i]
                                      for i in range(3)), 20, "history missing after reload")
    for i in range(3):
        steps = page.steps(i)
        assert steps == list(range(len(steps))), f"column {i} after reload: {steps}"

    # When the variations finish: their figures and diffs side by side.
    page.wait_status("completed")
    page.wait_diffs([0, 1, 2])
    wait_until(browser, lambda d: all(page.steps(i) == list(range(LINES)) for i in range(3)),
               10, "a column is incomplete")
    for i in range(3):
        assert page.column_status(i) == "succeeded"
        stats = page.stats(i)
        assert [stats["Turns"], stats["Tokens in / out"], stats["Cost"]] == [
            str(3 + i), f"{1000 + i:,} / {200 + i}", "$0.0123"]
        assert re.fullmatch(r"\d+\.\d s", stats["Time"]), stats
        files = page.column(i).find_elements(By.CSS_SELECTOR, ".diff-file .diff-path")
        assert [f.text for f in files] == ["README.md", f"src/v{i}.py"]
        added = page.column(i).find_elements(By.CSS_SELECTOR, ".diff-add .code")
        assert [a.text for a in added] == [f"Hello from variation {i}",
                                           f"# variation {i} was here", f"VALUE = {i}"]
        deleted = page.column(i).find_element(By.CSS_SELECTOR, ".diff-del")
        assert deleted.find_element(By.CLASS_NAME, "code").text == "Hello"
    add_bg = rgb(browser.execute_script("return getComputedStyle(arguments[0])"
                                        ".backgroundColor", page.column(0).find_element(
                                            By.CSS_SELECTOR, ".diff-add")))
    del_bg = rgb(browser.execute_script("return getComputedStyle(arguments[0])"
                                        ".backgroundColor", deleted))
    assert add_bg[1] > add_bg[0] and del_bg[0] > del_bg[1], (add_bg, del_bg)
    assert page.text_of('[data-role="cancel"]') == ""
    screenshot(browser, "run-finished-1280")

    # Choosing a winner is recorded through the API, shown, and still there on reload.
    page.column(2).find_element(By.CLASS_NAME, "choose").click()
    wait_until(browser, lambda d: page.text_of('[data-role="winner"]')
               .startswith("Winner: Variation 2"))
    assert web.run(run_id)["selection"]["winning_variation_id"] == 2
    assert "is-winner" in page.column(2).get_attribute("class")
    browser.refresh()
    wait_until(browser, lambda d: page.text_of('[data-role="winner"]')
               .startswith("Winner: Variation 2"))
    assert page.column(2).find_element(By.CLASS_NAME, "choose").text == "Chosen"

    # The runs list shows it, newest first, with its winner.
    browser.get(web.page("/runs"))
    row = wait_until(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, f'tr[data-run-id="{run_id}"]'))[0]
    assert browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")[0] == row
    assert "completed" in row.text.lower() and "Variation 2" in row.text


def test_a_failed_variation_shows_its_reason(browser, web):
    run_id = web.start_run("protocol=1 lines=6 v1.exit=4 v1.fail=Invalid%20API%20key")
    browser.get(web.page(f"/runs/{run_id}"))
    page = RunPage(browser)
    page.wait_status("completed")
    wait_until(browser, lambda d: page.failure(1))
    assert page.column_status(1) == "failed"
    assert page.failure(1) == "the agent exited with code 4: Invalid API key"
    assert page.entries(1, "error")[0] == "model_error: Invalid API key"
    assert not page.column(1).find_element(By.CLASS_NAME, "choose").is_displayed()
    assert page.column_status(0) == "succeeded" and page.failure(0) == ""
    page.wait_diffs([0])
    assert page.column(0).find_element(By.CLASS_NAME, "choose").is_displayed()


def test_cancel_stops_a_live_run(browser, web):
    run_id = web.start_run("protocol=1 lines=400 delay=0.05")
    browser.get(web.page(f"/runs/{run_id}"))
    page = RunPage(browser)
    wait_until(browser, lambda d: len(page.steps(0)) >= 3)
    browser.find_element(By.CSS_SELECTOR, '[data-role="cancel"]').click()
    page.wait_status("cancelled")
    assert web.run(run_id)["status"] == "cancelled"
    assert [page.column_status(i) for i in range(2)] == ["cancelled", "cancelled"]
    assert not browser.find_element(By.CSS_SELECTOR, '[data-role="cancel"]').is_displayed()


def test_an_unknown_run_says_so(browser, web):
    browser.get(web.page("/runs/run-0000000000"))
    page = RunPage(browser)
    wait_until(browser, lambda d: page.text_of('[data-role="page-error"]'))
    assert page.text_of('[data-role="page-error"]') == "There is no run run-0000000000."
