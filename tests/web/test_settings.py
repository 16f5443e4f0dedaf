"""Settings in a real browser, with access control on: a signed-in principal sees whether
GitHub is connected (the login GitHub gave, never the token), connects it and disconnects
it, and the API agrees each time. Against the fake GitHub on 127.0.0.1."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests
from selenium.webdriver.common.by import By

from helpers import Server
from tests.fake_github import FakeGitHub

from .browser import missing, screenshot, script_errors, start_chromium, wait_until
from .test_auth import ADMIN, enter_token, token_for

GH_TOKEN = "ghp_settingsPageToken0123456789abcdef"


@pytest.fixture
def signed_in(tmp_path) -> Iterator[tuple[Server, Any, str]]:
    """A server with auth required and a fake GitHub; a browser of its own (quit first:
    its keep-alive connections would hold up the server's shutdown); Alice's token."""
    problem = missing()
    if problem:
        pytest.fail(problem)
    github = FakeGitHub(tmp_path / "github")
    github.tokens[GH_TOKEN] = "settings-gh"
    github.start()
    server = Server(tmp_path / "data", auth="required", admin_token=ADMIN,
                    github_url=github.url, github_api_url=github.api_url,
                    encryption_key="settings-tests-encryption-key").start()
    driver = start_chromium()
    try:
        yield server, driver, token_for(server, "alice")
        assert script_errors(driver) == []
    finally:
        driver.quit()
        server.stop()
        github.stop()


def shown(driver) -> tuple[str, str]:
    """(the badge, the status line) of the GitHub card."""
    return tuple(driver.execute_script(
        "return ['github-state', 'github-status'].map(r => "
        "document.querySelector(`[data-role=\"${r}\"]`).textContent)"))


def connection(server: Server, token: str) -> dict[str, Any]:
    return requests.get(server.url("/github"), timeout=10,
                        headers={"Authorization": f"Bearer {token}"}).json()


def test_connect_see_connected_disconnect_see_not_connected(signed_in):
    server, driver, alice = signed_in
    driver.get(f"{server.base}/runs")
    enter_token(driver, alice)   # signing in: the page's API call answered 401
    wait_until(driver, "!document.getElementById('token-dialog').open")
    driver.find_element(By.LINK_TEXT, "Settings").click()   # the tab keeps the token
    wait_until(driver, "document.getElementById('github-settings').dataset.connected === 'false'")
    assert shown(driver)[0] == "not connected"
    assert shown(driver)[1].startswith("Not connected")
    assert not driver.find_element(By.CSS_SELECTOR, "[data-role=github-disconnect]").is_displayed()

    # A token GitHub refuses: said so, nothing stored.
    field = driver.find_element(By.ID, "github-token")
    field.send_keys("ghp_not-accepted-by-github")
    driver.find_element(By.CSS_SELECTOR, "[data-role=github-connect] button").click()
    wait_until(driver, "!document.querySelector('[data-role=github-error]').hidden")
    assert "GitHub does not accept this token" in driver.find_element(
        By.CSS_SELECTOR, "[data-role=github-error]").text
    assert connection(server, alice)["connected"] is False

    field.send_keys(GH_TOKEN)
    driver.find_element(By.CSS_SELECTOR, "[data-role=github-connect] button").click()
    wait_until(driver, "document.getElementById('github-settings').dataset.connected === 'true'")
    assert shown(driver)[0] == "connected"
    assert shown(driver)[1].startswith("Connected as settings-gh (scopes: repo, workflow)")
    assert driver.find_element(By.ID, "github-token").get_attribute("value") == ""
    assert not driver.find_element(By.CSS_SELECTOR, "[data-role=github-connect]").is_displayed()
    assert connection(server, alice)["login"] == "settings-gh"
    assert GH_TOKEN not in driver.page_source
    screenshot(driver, "settings-connected")

    # After a reload (the tab keeps its access token): still connected, still no token.
    driver.refresh()
    wait_until(driver, "document.getElementById('github-settings').dataset.connected === 'true'")
    assert "settings-gh" in shown(driver)[1] and GH_TOKEN not in driver.page_source

    driver.find_element(By.CSS_SELECTOR, "[data-role=github-disconnect]").click()
    wait_until(driver, "document.getElementById('github-settings').dataset.connected === 'false'")
    assert shown(driver)[0] == "not connected"
    assert driver.find_element(By.CSS_SELECTOR, "[data-role=github-connect]").is_displayed()
    assert connection(server, alice)["connected"] is False
    driver.refresh()
    wait_until(driver, "document.getElementById('github-settings').dataset.connected === 'false'")
    assert GH_TOKEN not in driver.page_source
