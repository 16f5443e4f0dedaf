"""Whether this machine can sandbox agents, found once when the local runtime starts.

A service that cannot make a sandbox must not run agents as its own user by surprise: it
refuses them with a message saying what to install, unless the user opted out
(``AIDEATOR_SANDBOX=off``), which the log and /health then say.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from .sandbox import PACKAGES, probe_argv

OPT_OUT = "AIDEATOR_SANDBOX=off"


@dataclass(frozen=True)
class Availability:
    state: str              # "bubblewrap" (agents run sandboxed), "off", "unavailable"
    problem: str = ""       # why not, when unavailable: shown to the user

    @property
    def sandboxed(self) -> bool:
        return self.state == "bubblewrap"


def _refusal(why: str) -> str:
    return (f"agents are not started: no sandbox can be made on this machine ({why}). "
            f"Install Debian's {PACKAGES.replace(' ', ' and ')} packages "
            f"(sudo apt-get install {PACKAGES}), or set {OPT_OUT} to run agents "
            f"unsandboxed, as the service's own user")


def probe(mode: str, *, timeout: float = 10.0) -> Availability:
    """What ``mode`` (the AIDEATOR_SANDBOX setting) gives on this machine."""
    if mode == "off":
        return Availability("off")
    missing = [tool for tool in ("bwrap", "socat", "setsid") if shutil.which(tool) is None]
    if missing:
        return Availability("unavailable", _refusal(f"{', '.join(missing)} not found"))
    try:
        done = subprocess.run(probe_argv(shutil.which("bwrap") or "bwrap"),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Availability("unavailable", _refusal(f"bwrap failed: {exc}"))
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        return Availability("unavailable", _refusal(
            f"bwrap failed: {detail[-1] if detail else f'exit code {done.returncode}'}"))
    return Availability("bubblewrap")
