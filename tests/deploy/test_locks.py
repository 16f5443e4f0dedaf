"""The lock files the images install from (`make lock` writes them): every requirement of
the requirements files is pinned there to one exact version that satisfies it, with the
hashes pip checks, and so is every package its extras pull in; the API image's lock leaves
the agent out. (Whether the pins install together is proven by test_images.py.)"""
from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conftest import ROOT

# lock -> the requirements files it is made from (the API lock: requirements.txt minus -r)
LOCKS = {ROOT / "requirements.lock": [ROOT / "requirements.txt"],
         ROOT / "agent" / "requirements.lock": [ROOT / "agent" / "requirements.txt"]}
PIN = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)==(\S+)\s*\\$")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}(\s*\\)?$")


def requirements(path: Path) -> list[Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def pins(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of every package the lock pins."""
    found: dict[str, tuple[str, int]] = {}
    current = None
    for line in lock.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if match := PIN.match(line):
            current = canonicalize_name(match.group(1))
            found[current] = (match.group(2), 0)
        elif HASH.match(line) and current is not None:
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
        else:
            raise AssertionError(f"{lock.name}: not a pin with hashes: {line!r}")
    return found


def extras_requirements(requirement: Requirement) -> list[Requirement]:
    """What the requirement's extras add (read from the installed package's metadata)."""
    added = []
    for text in importlib.metadata.requires(requirement.name) or []:
        extra_dep = Requirement(text)
        if extra_dep.marker and any(extra_dep.marker.evaluate({"extra": extra})
                                    for extra in requirement.extras):
            added.append(extra_dep)
    return added


@pytest.mark.parametrize("lock", list(LOCKS), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_requirement_is_pinned_with_hashes(lock: Path) -> None:
    pinned = pins(lock)
    assert pinned and all(hashes for _, hashes in pinned.values()), \
        f"{lock.name}: a pin without hashes"
    wanted = [r for source in LOCKS[lock] for r in requirements(source)]
    for requirement in wanted + [e for r in wanted for e in extras_requirements(r)]:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} is not in {lock.relative_to(ROOT)}: make lock"
        version = pinned[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock.relative_to(ROOT)} pins {name}=={version}, outside {requirement}: "
            "make lock")


def test_the_api_lock_leaves_the_agent_out() -> None:
    agent_only = {canonicalize_name(r.name) for r in requirements(ROOT / "agent" /
                                                                   "requirements.txt")}
    assert agent_only and not agent_only & set(pins(ROOT / "requirements.lock"))


def test_the_locks_say_how_they_are_made() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for lock in LOCKS:
        assert lock.read_text().splitlines()[1].strip("# ") == "make lock"
        assert f"-o {lock.relative_to(ROOT)}" in makefile
