"""A real headless Chromium for the web app's tests and benchmark: Debian's ``chromium``
driven through its ``chromedriver`` by Selenium, both given by path (Selenium Manager,
which would download a browser, never runs)."""
from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PACKAGES = "chromium chromium-driver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


def missing() -> str | None:
    """What is missing to run a browser, or None."""
    absent = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    return (f"{', '.join(absent)} not found: the browser tests need Debian's {PACKAGES} "
            f"packages (apt-get install {PACKAGES}; `make test` installs them as root)"
            if absent else None)


def start_chromium(user_data_dir: str | None = None) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir or tempfile.mkdtemp(prefix='chromium-')}")
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


@contextmanager
def chromium_for_tests() -> Iterator[webdriver.Chrome]:
    """A browser for tests, quit at the end; the test fails, naming what to install,
    where there is none."""
    problem = missing()
    if problem:
        import pytest
        pytest.fail(problem)
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def set_viewport(driver: webdriver.Chrome, width: int, height: int = 900) -> None:
    """The page's viewport, exactly (a window's size includes what headless adds)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """The whole page (beyond the viewport) as test-artifacts/web/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot",
                                  {"format": "png", "captureBeyondViewport": True})
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def wait_until(driver: webdriver.Chrome, condition: Callable[[Any], Any] | str,
               timeout: float = 20, message: str = "") -> Any:
    """Wait for ``condition(driver)`` (or a JavaScript expression) to be truthy; its value."""
    check = condition if callable(condition) else \
        (lambda d: d.execute_script(f"return ({condition});"))
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        check, message or (condition if isinstance(condition, str) else ""))


def script_errors(driver: webdriver.Chrome) -> list[str]:
    """Uncaught errors the page's scripts raised since the last call."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry.get("source") == "javascript"]
