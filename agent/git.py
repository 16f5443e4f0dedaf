"""How the agent wrapper runs git: one binary, a clean environment, settings the model cannot set.

With a shell the model can rewrite anything in its clone, ``.git`` included, and git obeys
what it finds there: ``core.fsmonitor``, ``core.hooksPath``, ``core.pager``, ``diff.external``
or ``filter.<name>.clean`` in ``.git/config`` name programs git runs on its next ``add`` or
``diff``. The wrapper runs git after the model is done (the diff), so those programs would
run outside any tool call the service sees. Three rules keep that from happening:

- The options below are given on every command line; ``-c`` beats every config file.
- git's environment is built from an allow-list: no model credential (``ANTHROPIC_*``,
  ``CLAUDE_CODE_*``), no inherited ``GIT_DIR``-style redirections, no system or global
  config (``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_GLOBAL=/dev/null``; a ``~/.gitconfig`` the
  model wrote is not read). Only the clone, which needs the network, also gets the
  ``GIT_CONFIG_*`` settings the service passes (the gateway's ``insteadOf`` and its
  credential header) and the proxy/CA variables.
- The diff never reads the clone's own ``.git`` config at all (see ``diff.py``): a filter
  driver can be named by any ``filter.<name>`` key, so no fixed list of ``-c`` overrides
  can switch them all off.

The binary is resolved once, when the agent starts, before the model could drop a ``git``
of its own into a directory on ``PATH``.
"""
from __future__ import annotations

import asyncio
import os
import shutil
from typing import Mapping

GIT = shutil.which("git") or "git"

# Programs git could be told to run, switched off whatever the config files say.
SAFE_OPTIONS = (
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.pager=cat",
    # Attribute and ignore files outside the repository (defaults under ~/.config/git).
    "-c", "core.attributesFile=/dev/null",
    "-c", "core.excludesFile=/dev/null",
)

_FIXED_ENV = {
    "GIT_TERMINAL_PROMPT": "0",   # a missing GitHub repo asks for a password: never wait
    "GCM_INTERACTIVE": "never",
    "LC_ALL": "C",                # English messages, parsed by clone.py
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_ATTR_NOSYSTEM": "1",
    "GIT_PAGER": "cat",
    "GIT_NO_REPLACE_OBJECTS": "1",
}
_ALWAYS = ("PATH", "HOME", "TMPDIR")
# Only the clone talks to a server; these say how to reach it.
_NETWORK = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
            "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO",
            "GIT_SSL_CAPATH")


def env(*, network: bool = False, source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of one git command (``network``: the clone's extras too)."""
    source = os.environ if source is None else source
    names = _ALWAYS + (_NETWORK if network else ())
    out = {name: source[name] for name in names if name in source}
    if network:
        out.update(_config_parameters(source))
    out.update(_FIXED_ENV)
    return out


def _config_parameters(source: Mapping[str, str]) -> dict[str, str]:
    """``GIT_CONFIG_COUNT`` and its ``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``, if well formed."""
    count = source.get("GIT_CONFIG_COUNT", "")
    if not count.isdigit():
        return {}
    out = {"GIT_CONFIG_COUNT": count}
    for i in range(int(count)):
        for name in (f"GIT_CONFIG_KEY_{i}", f"GIT_CONFIG_VALUE_{i}"):
            if name in source:
                out[name] = source[name]
    return out


def command(*args: str) -> list[str]:
    return [GIT, *SAFE_OPTIONS, *args]


async def run(*args: str, cwd: str | None = None,
              network: bool = False) -> tuple[int, str, str]:
    """Run one git command to completion; kills it if the caller is cancelled."""
    code, out, err = await run_bytes(*args, cwd=cwd, network=network)
    return code, out.decode("utf-8", "replace"), err


async def run_bytes(*args: str, cwd: str | None = None,
                    network: bool = False) -> tuple[int, bytes, str]:
    """As :func:`run`, with git's output as it wrote it: a diff of a file that is not
    UTF-8 must not be decoded (and so changed) before it is looked at."""
    proc = await asyncio.create_subprocess_exec(
        *command(*args), cwd=cwd, env=env(network=network), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await proc.communicate()
    except asyncio.CancelledError:
        kill(proc)
        await proc.wait()
        raise
    return proc.returncode or 0, out, err.decode("utf-8", "replace")


def kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        try:
            proc.kill()
        except ProcessLookupError:
            pass
