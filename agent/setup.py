"""The repository's setup: one shell command run after the clone, before the model.

It installs what the repository needs (a venv, ``node_modules``...) while an egress proxy
lets it reach package registries; the model and the checks that come after never get
that proxy. The command is the run request's ``SETUP``, or, when the run opted in with
``SETUP_FROM_REPO=1`` and names none, the repository's own ``.aideator/setup.sh``.

Only the setup command gets the proxy variables: they are given to its environment
(``steps.environment``), never put into the agent's own, so the CLI and its Bash never
see them.
"""
from __future__ import annotations

import os
from typing import Any

from . import protocol, steps, toolchain
from .config import Settings
from .output import Emitter

REPO_SCRIPT = os.path.join(".aideator", "setup.sh")
# The last lines of a failed setup's output that its error message carries.
REASON_LINES = 20
# Caches a mounted package-cache volume (SETUP_CACHE_DIR, Kubernetes) is used for.
_CACHE_VARIABLES = {"XDG_CACHE_HOME": "", "PIP_CACHE_DIR": "pip", "npm_config_cache": "npm",
                    "YARN_CACHE_FOLDER": "yarn", "GOMODCACHE": "go-mod",
                    "CARGO_HOME": "cargo"}


def command_for(settings: Settings) -> tuple[str, str] | None:
    """(command, source) to run, or None when there is no setup."""
    if settings.setup:
        return settings.setup, "request"
    script = os.path.join(settings.clone_dir, REPO_SCRIPT)
    # A regular file of the clone (a symlink could point anywhere in the sandbox).
    if settings.setup_from_repo and os.path.isfile(script) and not os.path.islink(script):
        return f"sh {REPO_SCRIPT}", "repository"
    return None


def environment(settings: Settings, base: dict[str, str] | os._Environ) -> dict[str, str]:
    """The setup command's environment: the harmless basics, the repository's PATH (see
    toolchain.py), the proxy, the caches."""
    extra: dict[str, str] = {"PATH": toolchain.path(settings.clone_dir, base)}
    if settings.setup_proxy:
        proxy = settings.setup_proxy.rstrip("/")
        extra.update({"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy,
                      "https_proxy": proxy,
                      # Nothing bypasses it (a NO_PROXY of the image would).
                      "NO_PROXY": "", "no_proxy": ""})
    cache = base.get("SETUP_CACHE_DIR")
    if cache and os.path.isabs(cache):
        extra.update({name: os.path.join(cache, sub) if sub else cache
                      for name, sub in _CACHE_VARIABLES.items()})
    return steps.environment(base, extra)


def reason(result: steps.StepResult, timeout: int) -> str | None:
    """Why the setup failed, in a few words (None when it passed)."""
    if result.timed_out:
        return f"setup timed out after {timeout} s"
    if result.exit_code != 0:
        return f"setup exited with code {result.exit_code}"
    return None


async def run(settings: Settings, out: Emitter) -> dict[str, Any] | None:
    """Run the setup, telling its progress; returns its ``setup_finished`` fields (None:
    nothing to run). ``passed`` says whether the run may go on."""
    chosen = command_for(settings)
    if chosen is None:
        if not settings.setup_from_repo:
            return None
        # Opted in, but the repository has no script: told, so the service knows the
        # setup is over (on Kubernetes that closes the egress window, egress/window.py).
        finished = {"command": None, "source": "repository", "skipped": True,
                    "timeout_seconds": settings.setup_timeout, "exit_code": None,
                    "passed": True, "duration_ms": 0, "timed_out": False, "lines": 0,
                    "truncated": False, "reason": None, "tail": []}
        out.emit(protocol.SETUP_FINISHED, **finished)
        return finished
    command, source = chosen
    out.emit(protocol.SETUP_STARTED, command=command, source=source,
             timeout_seconds=settings.setup_timeout)
    result = await steps.run(
        command, cwd=settings.clone_dir, env=environment(settings, os.environ),
        timeout=settings.setup_timeout,
        on_output=lambda lines, cut: out.emit(protocol.SETUP_OUTPUT, lines=lines,
                                              truncated=cut))
    finished = {"command": command, "source": source,
                "timeout_seconds": settings.setup_timeout, "exit_code": result.exit_code,
                "passed": result.passed, "duration_ms": result.duration_ms,
                "timed_out": result.timed_out, "lines": result.lines,
                "truncated": result.truncated,
                "reason": reason(result, settings.setup_timeout),
                "tail": result.tail[-REASON_LINES:]}
    out.emit(protocol.SETUP_FINISHED, **finished)
    return finished


def failure_message(finished: dict[str, Any]) -> str:
    """The ``setup_failed`` error's message: the reason, then the last lines."""
    tail = "\n".join(finished.get("tail") or [])
    return f"{finished['reason']}" + (f"; last lines:\n{tail}" if tail else "")
