"""Fixtures for the agent's tests (see harness.py for what they are made of)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

# The repository root, so that ``agent`` and ``tests.agent.*`` import the same way whether
# pytest runs from the root or from elsewhere.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.agent.fake_anthropic import FakeAnthropic  # noqa: E402
from tests.agent.harness import Workspace  # noqa: E402


@pytest.fixture
def world(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture
def fake_model() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic()
    server.start()
    try:
        yield server
    finally:
        server.stop()
