"""The PATH a repository's own commands run with: its setup, its checks, and the engine's
shell (the CLI and what its Bash or exec tool starts).

They get the machine's (or the image's) own tools, with what the setup prepared in the
clone in front of them, as an activated virtualenv or ``npm run`` would: ``.venv/bin``
and ``node_modules/.bin`` when they exist (looked up each time, so the checks see what the
setup made). Never this agent's own runtime: the interpreter running ``python -m agent``
is a virtualenv holding the agent's packages (on the local runtime, the service's own),
and a repository's ``python3 -m pytest`` must not find it. The agent itself does not use
this PATH: it runs by its interpreter's absolute path and resolves git once at start.
"""
from __future__ import annotations

import os
import sys
from typing import Mapping

# What a setup usually prepares, relative to the clone's root, first found first.
PREPARED_BINS = (os.path.join(".venv", "bin"), os.path.join("node_modules", ".bin"))
# When the agent was given no PATH at all: where every Debian or image puts its tools.
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# Variables that would point a repository's Python at the agent's packages.
RUNTIME_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


def own_runtime_bins(environ: Mapping[str, str]) -> set[str]:
    """The bin directories of the virtualenv this agent runs from (if it does), and of the
    one ``VIRTUAL_ENV`` names, resolved (a venv reached through a symlink counts too)."""
    prefixes = [environ.get("VIRTUAL_ENV", "")]
    if sys.prefix != sys.base_prefix:
        prefixes.append(sys.prefix)
    return {os.path.realpath(os.path.join(p, "bin")) for p in prefixes if p}


def path(clone_dir: str, environ: Mapping[str, str]) -> str:
    """The PATH for a command run in ``clone_dir``: the setup's bins, then the machine's
    (those that exist), without this agent's own virtualenv."""
    own = own_runtime_bins(environ)
    base = environ.get("PATH") or SYSTEM_PATH
    # Only directories that exist here: the service's PATH names some the sandbox lacks.
    system = [d for d in base.split(os.pathsep)
              if d and os.path.isdir(d) and os.path.realpath(d) not in own]
    prepared = [os.path.join(clone_dir, b) for b in PREPARED_BINS
                if os.path.isdir(os.path.join(clone_dir, b))]
    seen: set[str] = set()
    entries = []
    for entry in prepared + (system or SYSTEM_PATH.split(os.pathsep)):
        if entry not in seen:
            seen.add(entry)
            entries.append(entry)
    return os.pathsep.join(entries)


def environment(clone_dir: str, environ: Mapping[str, str]) -> dict[str, str]:
    """What an engine's CLI gets over the agent's own environment: the repository's PATH,
    and the variables naming the agent's Python emptied (an empty one counts as unset)."""
    return {"PATH": path(clone_dir, environ), **{name: "" for name in RUNTIME_VARIABLES}}
