"""The web app in a real browser: one headless Chromium and one service (gunicorn with the
fake agent) for the whole module set; each test starts from a blank page."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from helpers import REPO, Server, start_run, wait_for  # noqa: F401 - REPO for the tests

from .browser import chromium_for_tests, script_errors, set_viewport


@pytest.fixture(scope="session")
def chromium(web_server: Server) -> Iterator[Any]:
    # Quit before the server stops: the browser's keep-alive connections would hold up
    # its graceful shutdown.
    with chromium_for_tests() as driver:
        yield driver


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # No per-principal limits: the tests start many runs within the hour.
    server = Server(tmp_path_factory.mktemp("web") / "data", limit_concurrent_runs="0",
                    limit_runs_per_hour="0")
    # An OpenAI key and no Gemini key: a codex variation starts (the fake agent plays
    # it), a gemini one fails at once (tests/web/test_engines.py).
    server.env["OPENAI_API_KEY"] = "sk-openai-web-test"
    server.env.pop("GEMINI_API_KEY", None)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def browser(chromium: Any) -> Iterator[Any]:
    """The browser at 1280 px, starting on a blank page; fails the test if a script of the
    page raised an error."""
    chromium.get("about:blank")
    set_viewport(chromium, 1280)
    script_errors(chromium)
    yield chromium
    errors = script_errors(chromium)
    chromium.get("about:blank")
    chromium.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert errors == [], f"the page raised: {errors}"


class Web:
    """The service the browser talks to, and the API calls the tests check through."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.base = server.base

    def page(self, path: str) -> str:
        return self.base + path

    def start_run(self, prompt: str, variations: int = 2, **body: Any) -> str:
        return start_run(self.server, prompt, variations, **body)["run_id"]

    def run(self, run_id: str) -> dict[str, Any]:
        return self.server.get(f"/runs/{run_id}").json()

    def wait_finished(self, run_id: str, timeout: float = 30) -> dict[str, Any]:
        wait_for(lambda: self.run(run_id)["status"] in ("completed", "failed", "cancelled"),
                 timeout=timeout)
        return self.run(run_id)


@pytest.fixture(scope="session")
def web(web_server: Server) -> Web:
    return Web(web_server)
