"""A finished variation's change in a real browser: *Download patch* saves a file that
``git am`` applies at the base commit, and *Open pull request* asks to connect GitHub the
first time, then opens it and shows its link (also after a reload). Against the fake
GitHub, with the agent that really clones and changes (tests/fixtures/git_agent.py)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from selenium.webdriver.common.by import By

from helpers import ROOT, Server, wait_for
from tests.fake_github import FakeGitHub

from .browser import wait_until
from .pages import RunPage

GH_TOKEN = "ghp_browserTestToken0123456789"


@pytest.fixture(scope="module")
def github_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, FakeGitHub]]:
    tmp = tmp_path_factory.mktemp("web-github")
    github = FakeGitHub(tmp / "github")
    github.repo("acme", "widgets", {"keep.txt": "one\n", "gone.txt": "bye\n"})
    github.tokens[GH_TOKEN] = "browser-gh"
    github.start()
    server = Server(tmp / "data", github_url=github.url, github_api_url=github.api_url,
                    sandbox="off",
                    agent_command=f"{sys.executable} {ROOT / 'tests/fixtures/git_agent.py'}")
    server.start()
    yield server, github
    server.stop()
    github.stop()


def finished_run(server: Server) -> str:
    resp = requests.post(server.url("/runs"), timeout=10, json={
        "github_url": "https://github.com/acme/widgets", "variations": 1,
        "prompt": "Polish the widgets\nadd=src/new.py del=gone.txt bin=logo.bin"})
    run_id = resp.json()["run_id"]
    wait_for(lambda: requests.get(server.url(f"/runs/{run_id}"), timeout=10)
             .json()["status"] == "completed", timeout=30)
    return run_id


def test_download_the_patch_and_open_a_pull_request_from_a_finished_variation(
        browser: Any, github_world: tuple[Server, FakeGitHub], tmp_path: Path) -> None:
    server, github = github_world
    run_id = finished_run(server)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(downloads)})
    browser.get(f"{server.base}/runs/{run_id}")
    column = '#variation-0'
    wait_until(browser, f"document.querySelector('{column} .download-patch')?.hidden === false")
    browser.find_element(By.CSS_SELECTOR, f"{column} .download-patch").click()
    saved = downloads / f"{run_id}-0.patch"
    wait_for(lambda: saved.exists() and saved.stat().st_size > 0, timeout=10)
    time.sleep(0.2)   # the file is complete once Chromium renamed it from .crdownload

    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", f"{github.url}/acme/widgets", str(fresh)],
                   check=True)
    done = subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@e", "am",
                           str(saved)], cwd=fresh, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (fresh / "src" / "new.py").exists() and not (fresh / "gone.txt").exists()

    # No GitHub connected yet: the button asks for a token, then opens the pull request.
    browser.find_element(By.CSS_SELECTOR, f"{column} .pull-request").click()
    wait_until(browser, f"document.querySelector('{column} .connect-github')?.hidden === false")
    assert "connect GitHub" in browser.find_element(
        By.CSS_SELECTOR, f"{column} .change-message").text
    browser.find_element(By.CSS_SELECTOR, f"{column} input[name=github-token]") \
        .send_keys(GH_TOKEN)
    browser.find_element(By.CSS_SELECTOR, f"{column} .connect-github button").click()
    link = wait_until(browser, lambda d: next(
        (a for a in d.find_elements(By.CSS_SELECTOR, f"{column} .pr-link")
         if a.is_displayed()), None))
    assert link.text == "Pull request #1"
    assert link.get_attribute("href") == f"{github.url}/acme/widgets/pull/1"
    assert not browser.find_element(By.CSS_SELECTOR, f"{column} .pull-request").is_displayed()
    assert GH_TOKEN not in browser.page_source

    # After a reload, the link is there from the run's detail.
    browser.refresh()
    wait_until(browser, f"document.querySelector('{column} .pr-link')?.hidden === false")
    assert len(github.pulls) == 1


def test_iterate_on_a_finished_variation_from_its_run_page(
        browser: Any, github_world: tuple[Server, FakeGitHub]) -> None:
    """*Iterate on this one* opens the new-run form with the repository filled in; the run
    it starts starts from that change, and both run pages link each other."""
    server, _ = github_world
    parent = finished_run(server)
    browser.get(f"{server.base}/runs/{parent}")
    wait_until(browser, "document.querySelector('#variation-0 .iterate')?.hidden === false")
    browser.find_element(By.CSS_SELECTOR, "#variation-0 .iterate").click()
    wait_until(browser, "document.getElementById('github_url')?.value !== ''")
    assert browser.find_element(By.ID, "github_url").get_attribute("value") == \
        "https://github.com/acme/widgets"
    assert parent in browser.find_element(By.CSS_SELECTOR, "[data-role=iterating]").text
    browser.find_element(By.ID, "prompt").send_keys("Refine\ndel=src/new.py")
    browser.find_element(By.ID, "start-run").click()
    wait_until(browser, lambda d: "/runs/run-" in d.current_url)
    child = browser.current_url.rsplit("/", 1)[1]
    detail = wait_for(lambda: (lambda d: d if d["status"] == "completed" else None)(
        requests.get(server.url(f"/runs/{child}"), timeout=10).json()), timeout=30)
    assert detail["parent"] == {"run_id": parent, "variation_id": 0}
    # Deleting the file only the parent's change added: the child started from it.
    diff = requests.get(server.url(f"/runs/{child}/variations/0/diff"), timeout=10).json()
    assert diff["files"] == ["src/new.py"] and "-added by variation 0" in diff["patch"]
    wait_until(browser, "document.querySelector('[data-role=parent] a') !== null")
    browser.find_element(By.CSS_SELECTOR, "[data-role=parent] a").click()
    wait_until(browser, lambda d: d.current_url.endswith(f"/runs/{parent}"))
    wait_until(browser, "document.querySelector('[data-role=children] a') !== null")
    assert browser.find_element(By.CSS_SELECTOR, "[data-role=children] a").text == child


def test_a_latin1_file_shows_as_binary_and_its_patch_gives_its_exact_bytes(
        browser: Any, github_world: tuple[Server, FakeGitHub], tmp_path: Path) -> None:
    """A text file that is not UTF-8: the diff view shows it (as binary, the UTF-8 file
    beside it as text) without a script error, and the downloaded patch gives its bytes."""
    server, github = github_world
    resp = requests.post(server.url("/runs"), timeout=10, json={
        "github_url": "https://github.com/acme/widgets", "variations": 1,
        "prompt": "Menu\nlatin1=menu.txt add=src/new.py"})
    run_id = resp.json()["run_id"]
    detail = wait_for(lambda: (lambda d: d if d["status"] == "completed" else None)(
        requests.get(server.url(f"/runs/{run_id}"), timeout=10).json()), timeout=30)
    browser.get(f"{server.base}/runs/{run_id}")
    RunPage(browser).wait_diffs([0])
    files = browser.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#variation-0 .diff-file')]"
        ".map(f => [f.querySelector('.diff-path').textContent,"
        " [...f.querySelectorAll('.diff-status')].map(s => s.textContent).join(' ')]))")
    assert files == {"menu.txt": "added binary", "src/new.py": "added"}
    assert "added by variation 0" in browser.find_element(
        By.CSS_SELECTOR, "#variation-0 .col-changes").text

    patch = requests.get(server.url(f"/runs/{run_id}/variations/0/patch"), timeout=10)
    assert patch.status_code == 200, patch.text
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", f"{github.url}/acme/widgets", str(fresh)],
                   check=True)
    subprocess.run(["git", "checkout", "-q", "--detach", detail["base_commit"]], cwd=fresh,
                   check=True)
    done = subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@e", "am"],
                          input=patch.content, cwd=fresh, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert (fresh / "menu.txt").read_bytes() == "café crème brûlée, variation 0\n".encode(
        "latin-1")
