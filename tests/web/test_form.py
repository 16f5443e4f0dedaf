"""The new-run form shows the API's validation errors next to the field they name."""
from __future__ import annotations

from selenium.webdriver.common.by import By

from .browser import wait_until
from .conftest import REPO


def field_error(driver, field: str) -> str:
    return driver.execute_script(
        "const f = document.querySelector(`[data-field=\"${arguments[0]}\"]`);"
        "const e = f && f.querySelector(':scope > .field-error');"
        "return e ? e.textContent : ''", field)


def errors_shown(driver) -> int:
    return len(driver.find_elements(By.CLASS_NAME, "field-error"))


def submit(driver) -> None:
    driver.find_element(By.ID, "start-run").click()


def test_validation_errors_are_shown_next_to_their_field(browser, web):
    runs_before = len(web.server.get("/runs").json()["runs"])
    browser.get(web.page("/"))
    browser.find_element(By.ID, "github_url").send_keys("https://gitlab.com/pallets/flask")
    browser.find_element(By.ID, "prompt").send_keys("protocol=1 lines=2")
    submit(browser)
    wait_until(browser, lambda d: field_error(d, "github_url"))
    assert field_error(browser, "github_url") == (
        "must be https://github.com/<owner>/<repo> (optionally ending in .git), "
        "with nothing else")
    url_input = browser.find_element(By.ID, "github_url")
    assert url_input.get_attribute("aria-invalid") == "true"
    assert browser.switch_to.active_element == url_input
    assert errors_shown(browser) == 1

    url_input.clear()
    url_input.send_keys(REPO)
    count = browser.find_element(By.ID, "variations")
    count.clear()
    count.send_keys("6")
    submit(browser)
    wait_until(browser, lambda d: field_error(d, "variations"))
    assert field_error(browser, "variations") == "6 is greater than the maximum of 5"
    assert field_error(browser, "github_url") == "" and errors_shown(browser) == 1

    # A per-variation setting: the error lands under that variation's field, with the
    # settings opened to show it.
    count.clear()
    count.send_keys("2")
    browser.find_element(By.CSS_SELECTOR, "#agent-settings > summary").click()
    browser.find_element(By.ID, "per-variation").click()
    browser.find_element(By.NAME, "variation_configs.1.model").send_keys("not a model!")
    browser.find_element(By.NAME, "variation_configs.0.max_turns").send_keys("20")
    # Fold (the per-variation fields made the form taller than the window: scroll back up
    # to the summary first, past the sticky top bar).
    summary = browser.find_element(By.CSS_SELECTOR, "#agent-settings > summary")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
    summary.click()
    submit(browser)
    wait_until(browser, lambda d: field_error(d, "variation_configs.1.model"))
    assert "does not match" in field_error(browser, "variation_configs.1.model")
    assert browser.find_element(By.ID, "agent-settings").get_attribute("open") is not None
    assert errors_shown(browser) == 1
    assert browser.current_url == web.page("/")
    assert len(web.server.get("/runs").json()["runs"]) == runs_before

    # Fixed, the run starts with the settings as typed.
    model = browser.find_element(By.NAME, "variation_configs.1.model")
    model.clear()
    model.send_keys("claude-haiku-4-5")
    submit(browser)
    wait_until(browser, lambda d: "/runs/run-" in d.current_url)
    run = web.run(browser.current_url.rsplit("/", 1)[1])
    assert [(v["config"]["model"], v["config"].get("max_turns")) for v in run["variations"]] \
        == [("claude-sonnet-4-5", 20), ("claude-haiku-4-5", None)]
