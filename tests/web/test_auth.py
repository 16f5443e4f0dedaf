"""With access control on, the web app asks for a token once, keeps it for the tab, reads
streams through the run's signed link, and takes a fresh link when an old one has
expired (here: after the server restarted mid-run)."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests
from selenium.webdriver.common.by import By

from helpers import Server

from .browser import missing, screenshot, script_errors, start_chromium, wait_until
from .conftest import REPO
from .pages import RunPage

ADMIN = "aid_web-test-admin-token"


@pytest.fixture
def secured(tmp_path) -> Iterator[tuple[Server, Any]]:
    """A server with auth required (stream links live 2 s) and a browser of its own, quit
    first so its keep-alive connections do not hold up the server's shutdown."""
    problem = missing()
    if problem:
        pytest.fail(problem)
    server = Server(tmp_path / "data", auth="required", admin_token=ADMIN,
                    stream_token_seconds="2").start()
    driver = start_chromium()
    try:
        yield server, driver
        assert script_errors(driver) == []
    finally:
        driver.quit()
        server.stop()


def token_for(server: Server, name: str) -> str:
    response = requests.post(server.url("/tokens"), json={"name": name}, timeout=10,
                             headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def enter_token(driver, token: str) -> None:
    dialog = wait_until(driver, lambda d: d.find_element(By.ID, "token-dialog")
                        .is_displayed() and d.find_element(By.ID, "token-dialog"))
    field = dialog.find_element(By.NAME, "token")
    field.clear()
    field.send_keys(token)
    dialog.find_element(By.CSS_SELECTOR, 'button[value="use"]').click()


def dialog_message(driver) -> str:
    return driver.execute_script(
        "const n = document.querySelector('[data-role=\"token-message\"]');"
        "return n.hidden ? '' : n.textContent")


def test_the_page_asks_for_a_token_once_and_streams_through_signed_links(secured):
    server, driver = secured
    alice = token_for(server, "alice")
    bearer = {"Authorization": f"Bearer {alice}"}
    run = requests.post(server.url("/runs"), headers=bearer, timeout=10, json={
        "github_url": REPO, "prompt": "protocol=1 lines=160 delay=0.05",
        "variations": 2}).json()
    run_id = run["run_id"]
    assert requests.get(server.url(f"/runs/{run_id}/stream"), timeout=10).status_code == 401

    driver.get(f"{server.base}/runs/{run_id}")
    enter_token(driver, "aid_not-a-token")
    wait_until(driver, lambda d: dialog_message(d) == "That token was not accepted.")
    screenshot(driver, "token-dialog-1280")
    enter_token(driver, alice)
    page = RunPage(driver)
    wait_until(driver, lambda d: page.columns() == 2 and all(len(page.steps(i)) >= 4
                                                             for i in range(2)), 20)
    assert driver.execute_script("return sessionStorage.getItem('aideator.token')") == alice
    assert driver.find_element(By.ID, "forget-token").is_displayed()

    # The server goes away mid-run; by the time it is back the stream link has expired
    # (2 s): the page takes a fresh one and carries on after the last event it had.
    assert requests.get(server.url(f"/runs/{run_id}"), headers=bearer,
                        timeout=10).json()["status"] == "running"
    server.kill()
    server.start()
    page.wait_status("completed", timeout=40)
    page.wait_diffs([0, 1])
    for i in range(2):
        assert page.steps(i) == list(range(160)), f"column {i}"

    # The token is kept for the tab: choosing a winner and other pages ask for nothing.
    page.column(1).find_element(By.CLASS_NAME, "choose").click()
    wait_until(driver, lambda d: page.text_of('[data-role="winner"]')
               .startswith("Winner: Variation 1"))
    detail = requests.get(server.url(f"/runs/{run_id}"), headers=bearer, timeout=10).json()
    assert detail["selection"]["winning_variation_id"] == 1
    assert detail["selection"]["selected_by"]["name"] == "alice"
    driver.get(f"{server.base}/runs")
    wait_until(driver, f"document.querySelector('tr[data-run-id=\"{run_id}\"]')")
    assert not driver.find_element(By.ID, "token-dialog").is_displayed()

    # Someone else's token does not show alice's run.
    driver.find_element(By.ID, "forget-token").click()
    driver.get(f"{server.base}/runs/{run_id}")
    enter_token(driver, token_for(server, "bob"))
    wait_until(driver, lambda d: page.text_of('[data-role="page-error"]'))
    assert page.text_of('[data-role="page-error"]') == f"There is no run {run_id}."
