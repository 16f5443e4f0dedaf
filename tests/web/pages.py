"""What a person sees on the run page, read from the DOM of a real browser."""
from __future__ import annotations

import re
from typing import Any

from selenium.webdriver.common.by import By

from .browser import wait_until

# The fake agent's step n, in whichever entry shows it (thinking, text, tool call, plain).
STEP = re.compile(r"step (\d+):|src/step_(\d+)\.py|plain line (\d+) of")


class RunPage:
    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def column(self, index: int) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, f'.column[data-variation="{index}"]')

    def columns(self) -> int:
        return self.js("return document.querySelectorAll('.column').length")

    def status(self) -> str | None:
        return self.js("return document.getElementById('run').dataset.status || null")

    def column_status(self, index: int) -> str | None:
        return self.column(index).get_attribute("data-status")

    def entries(self, index: int, kind: str = "") -> list[str]:
        """Text of the entries in the DOM of a column's transcript, oldest first."""
        return self.js(
            "return [...document.querySelectorAll("
            "`.column[data-variation=\"${arguments[0]}\"] .entries > li${arguments[1]}`)]"
            ".map(li => li.textContent)", index, f".{kind}" if kind else "")

    def steps(self, index: int) -> list[int]:
        """The fake agent's step numbers the column shows, in order (repeats kept)."""
        found = []
        for text in self.entries(index):
            match = STEP.search(text)
            if match:
                found.append(int(next(g for g in match.groups() if g is not None)))
        return found

    def stats(self, index: int) -> dict[str, str]:
        """The figures shown when a variation ends: name -> value."""
        return self.js("const dl = arguments[0].querySelector('.col-stats');"
                       "if (dl.hidden) return {};"
                       "return Object.fromEntries([...dl.querySelectorAll('dt')]"
                       ".map(dt => [dt.textContent, dt.nextElementSibling.textContent]))",
                       self.column(index))

    def failure(self, index: int) -> str:
        return self.js("const n = arguments[0].querySelector('.col-failure');"
                       "return n.hidden ? '' : n.textContent", self.column(index))

    def wait_status(self, status: str, timeout: float = 30) -> None:
        wait_until(self.driver, lambda d: self.status() == status, timeout,
                   f"the run page never showed the run {status}")

    def wait_diffs(self, indexes: list[int], timeout: float = 20) -> None:
        wait_until(self.driver, lambda d: all(
            self.js("return arguments[0].querySelectorAll('.col-changes .diff-file').length",
                    self.column(i)) for i in indexes), timeout, "diffs not shown")

    def text_of(self, selector: str) -> str:
        return self.js("const n = document.querySelector(arguments[0]);"
                       "return n && !n.hidden ? n.textContent : ''", selector)
