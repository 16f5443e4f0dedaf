"""Reading a server's /metrics as Prometheus does: its text format, parsed by
prometheus_client's own parser."""
from __future__ import annotations

from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """The samples of one scrape: ``value("aideator_runs_finished_total", status="failed")``
    (0 when the series does not exist yet)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = list(text_string_to_metric_families(text))
        self.samples = [s for family in self.families for s in family.samples]

    def value(self, name: str, **labels: str) -> float:
        found = [s.value for s in self.samples
                 if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
                 and set(s.labels) - {"le"} == set(labels) - {"le"}]
        assert len(found) <= 1, (name, labels, found)
        return found[0] if found else 0.0

    def total(self, name: str, **labels: str) -> float:
        """The sum over every series of ``name`` that has these labels."""
        return sum(s.value for s in self.samples if s.name == name
                   and all(s.labels.get(k) == v for k, v in labels.items()))

    def label_values(self) -> set[str]:
        return {v for s in self.samples for v in s.labels.values()}


def scrape(base: str, **kwargs: Any) -> Scrape:
    """``GET <base>/metrics`` on a new connection (so several workers take turns)."""
    response = requests.get(f"{base}/metrics", timeout=10,
                            headers={"Connection": "close"}, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return Scrape(response.text)
