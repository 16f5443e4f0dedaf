"""The new-run form offers an engine per variation, with the models each is known to take
and a prompt of its own; the run page shows each column's engine, model and prompt, and
why a variation whose engine has no key in the service did not start."""
from __future__ import annotations

import re

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from .browser import wait_until
from .conftest import REPO
from .pages import RunPage

OWN_PROMPT = "protocol=1 lines=3 (a prompt of its own)"


def offered(driver, field: str) -> list[str]:
    """The models a model field offers: its datalist's options."""
    return driver.execute_script(
        "const input = document.querySelector(`[name=\"${arguments[0]}\"]`);"
        "return [...input.list.options].map((o) => o.value)", field)


def test_engines_models_and_prompts_per_variation_from_the_form_to_the_columns(browser, web):
    browser.get(web.page("/"))
    browser.find_element(By.ID, "github_url").send_keys(REPO)
    browser.find_element(By.ID, "prompt").send_keys("protocol=1 lines=2")
    count = browser.find_element(By.ID, "variations")
    count.clear()
    count.send_keys("3")
    browser.find_element(By.CSS_SELECTOR, "#agent-settings > summary").click()
    browser.find_element(By.ID, "per-variation").click()

    engine = Select(browser.find_element(By.NAME, "variation_configs.1.engine"))
    assert [o.get_attribute("value") for o in engine.options] == [
        "", "claude-code", "codex", "gemini"]
    # The model field offers the engine's models (Claude's until another is chosen).
    assert offered(browser, "variation_configs.1.model")[:3] == [
        "claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"]
    engine.select_by_value("codex")
    assert offered(browser, "variation_configs.1.model")[:2] == ["gpt-5.5", "gpt-5.4"]
    Select(browser.find_element(By.NAME, "variation_configs.2.engine")).select_by_value("gemini")
    assert "gemini-2.5-flash" in offered(browser, "variation_configs.2.model")
    # The run's engine changes what a variation without its own engine is offered.
    Select(browser.find_element(By.NAME, "agent_config.engine")).select_by_value("gemini")
    assert offered(browser, "variation_configs.0.model")[0] == "gemini-2.5-pro"
    Select(browser.find_element(By.NAME, "agent_config.engine")).select_by_value("")
    assert offered(browser, "variation_configs.0.model")[0] == "claude-sonnet-4-5"
    # Free text is taken as typed, and a prompt for variation 1 only.
    browser.find_element(By.NAME, "variation_configs.1.model").send_keys("gpt-5-mini")
    browser.find_element(By.NAME, "variation_configs.1.prompt").send_keys(OWN_PROMPT)
    browser.find_element(By.ID, "start-run").click()

    run_id = wait_until(browser, lambda d: (re.search(r"/runs/(run-[a-z0-9]+)$",
                                                      d.current_url) or [None, None])[1])
    detail = web.run(run_id)
    assert [(v["config"]["engine"], v["config"]["model"], v["prompt"])
            for v in detail["variations"]] == [
        ("claude-code", "claude-sonnet-4-5", "protocol=1 lines=2"),
        ("codex", "gpt-5-mini", OWN_PROMPT),
        ("gemini", "gemini-2.5-pro", "protocol=1 lines=2")]

    page = RunPage(browser)
    wait_until(browser, lambda d: page.columns() == 3)
    heads = [page.column(i).find_element(By.CSS_SELECTOR, "[data-role=engine]").text
             for i in range(3)]
    assert heads == ["claude-code · claude-sonnet-4-5", "codex · gpt-5-mini",
                     "gemini · gemini-2.5-pro"]
    # Only the column whose prompt differs from the run's shows it.
    prompts = [page.column(i).find_element(By.CSS_SELECTOR, "[data-role=prompt]")
               for i in range(3)]
    assert [p.is_displayed() for p in prompts] == [False, True, False]
    assert prompts[1].text == f"Prompt: {OWN_PROMPT}"
    # No GEMINI_API_KEY in the service: that column says so; the others run on.
    wait_until(browser, lambda d: page.failure(2), 20)
    assert page.failure(2) == "no GEMINI_API_KEY configured for the gemini engine"
    page.wait_status("completed")
    assert [page.column_status(i) for i in range(3)] == ["succeeded", "succeeded", "failed"]
    # The board names each engine and the prompt that is a variation's own.
    wait_until(browser, "document.querySelectorAll('.board-table tbody tr').length === 3", 20)
    cells = browser.execute_script(
        "return [...document.querySelectorAll('.board-table tbody tr')].map((tr) => "
        "[tr.dataset.variation, tr.querySelector('[data-col=engine]').textContent, "
        "tr.querySelector('[data-col=prompt]').textContent])")
    assert sorted(cells) == [["0", "claude-code", "the run's"], ["1", "codex", OWN_PROMPT],
                             ["2", "gemini", "the run's"]]
