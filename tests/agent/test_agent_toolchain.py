"""The PATH a repository's commands see (agent/toolchain.py): the setup's ``.venv/bin`` and
``node_modules/.bin`` in front of the machine's tools, never the agent's own virtualenv."""
from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import pytest

from agent import run, toolchain
from agent.engines import codex


@pytest.fixture
def clone(tmp_path):
    path = tmp_path / "repo"
    path.mkdir()
    return path


def test_the_agents_own_virtualenv_is_left_out_and_the_machines_tools_kept(clone):
    assert sys.prefix != sys.base_prefix, "the tests run from a virtualenv"
    own = os.path.join(sys.prefix, "bin")
    got = toolchain.path(str(clone), {"PATH": f"{own}:/usr/local/bin:/usr/bin:/bin"})
    assert got == "/usr/local/bin:/usr/bin:/bin"
    # Also when the PATH names it through another spelling (a symlinked venv) or by
    # VIRTUAL_ENV (an activated one).
    resolved = os.path.join(os.path.realpath(sys.prefix), "bin")
    assert toolchain.path(str(clone), {"PATH": f"{resolved}:/usr/bin"}) == "/usr/bin"
    assert toolchain.path(str(clone), {"PATH": "/opt/other/bin:/usr/bin",
                                       "VIRTUAL_ENV": "/opt/other"}) == "/usr/bin"


def test_what_the_setup_prepared_comes_first_once_it_exists(clone):
    environ = {"PATH": "/usr/bin:/bin"}
    assert toolchain.path(str(clone), environ) == "/usr/bin:/bin"
    (clone / ".venv" / "bin").mkdir(parents=True)
    (clone / "node_modules" / ".bin").mkdir(parents=True)
    assert toolchain.path(str(clone), environ) == (
        f"{clone}/.venv/bin:{clone}/node_modules/.bin:/usr/bin:/bin")


def test_no_path_at_all_gives_the_systems_directories(clone):
    assert toolchain.path(str(clone), {}) == toolchain.SYSTEM_PATH
    own = os.path.join(sys.prefix, "bin")
    assert toolchain.path(str(clone), {"PATH": own}) == toolchain.SYSTEM_PATH


def test_the_engines_clis_get_that_path_and_no_pointer_to_the_agents_python(clone):
    (clone / ".venv" / "bin").mkdir(parents=True)
    settings = SimpleNamespace(clone_dir=str(clone), tools="shell")
    environ = {"PATH": f"{sys.prefix}/bin:/usr/bin", "PYTHONPATH": "/app",
               "VIRTUAL_ENV": sys.prefix}
    claude = run.cli_env(settings, environ)
    assert claude["PATH"] == f"{clone}/.venv/bin:/usr/bin"
    assert claude["PYTHONPATH"] == "" and claude["VIRTUAL_ENV"] == ""
    assert codex.cli_env(settings, "/h", environ)["PATH"] == f"{clone}/.venv/bin:/usr/bin"
