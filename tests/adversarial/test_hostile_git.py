"""Hostile repository content and agent output reaching the service's own git, which
applies a variation's change and pushes it for a pull request (``github/push.py``, real
git): attribute filters and textconv, hooks and ``core.*`` settings of the machine, a
symlink out of the tree, file names with ``..``, newlines and control characters, and a
diff past the limits. Each either goes in as plain content or is refused; no program is
ever run and nothing is written outside the service's temporary repository.
(The agent's own git inside the sandbox: tests/agent/test_agent_git_attack.py.)"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from aideator.github import patch, push
from aideator.github.rest import GitHubError


def git(*args: str, cwd: Path) -> str:
    """The test's own git, which never reads the hostile settings."""
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": "/dev/null"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True, env=env).stdout


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A repository whose content attacks, the machine's git config defining the programs
    its attributes name, and a directory that must stay empty."""
    markers = tmp_path / "markers"
    markers.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    run = f"touch {markers}/"
    config = tmp_path / "machine-gitconfig"
    config.write_text(f'[filter "evil"]\n\tclean = {run}clean; cat\n\tsmudge = {run}smudge; cat\n'
                      f'\trequired = true\n[diff "evil"]\n\ttextconv = {run}textconv; cat\n'
                      f'[core]\n\tfsmonitor = {run}fsmonitor; true\n'
                      f'\thooksPath = {tmp_path}/hooks\n\tpager = {run}pager; cat\n')
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for name in ("post-checkout", "pre-applypatch", "post-applypatch", "applypatch-msg",
                 "pre-push", "pre-commit", "post-commit"):
        (hooks / name).write_text(f"#!/bin/sh\n{run}hook-{name}\n")
        (hooks / name).chmod(0o755)
    # What a careless service would inherit: the machine's and the user's git settings.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".gitconfig").write_text(config.read_text())

    repo = tmp_path / "upstream"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    (repo / ".gitattributes").write_text("* filter=evil diff=evil\n")
    (repo / "greet.txt").write_text("hello\n")
    (repo / "out").symlink_to(outside)
    git("add", "-A", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base", cwd=repo)
    git("config", "receive.denyCurrentBranch", "ignore", cwd=repo)
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    return repo, base, markers, outside


def mail_of(diff_text: str, truncated: bool = False) -> str:
    return patch.build(run_id="run-abc123def4", variation=0, prompt="Change it",
                       config={}, diff={"patch": diff_text, "truncated": truncated,
                                        "bytes": len(diff_text)},
                       status="completed", usage={}).text


def push_it(repo: Path, base: str, diff_text: str, branch: str = "aideator/x") -> str:
    return push.push_branch(repo_url=str(repo), token="t0ken", base_commit=base,
                            mail=mail_of(diff_text), branch=branch)


def new_file(name: str, content: str = "pwned\n") -> str:
    return (f"diff --git a/{name} b/{name}\nnew file mode 100644\n--- /dev/null\n"
            f"+++ b/{name}\n@@ -0,0 +1 @@\n+{content}")


def test_filters_textconv_hooks_and_core_settings_run_nothing(hostile):
    repo, base, markers, _ = hostile
    # A git that reads the machine's settings runs them (so the attack is real) ...
    subprocess.run(["git", "clone", "-q", str(repo), str(markers.parent / "careless")],
                   check=True, capture_output=True)
    assert {"smudge", "hook-post-checkout"} <= {p.name for p in markers.iterdir()}
    for marker in markers.iterdir():
        marker.unlink()
    # ... the service's runs none of them.
    change = ("diff --git a/greet.txt b/greet.txt\n--- a/greet.txt\n+++ b/greet.txt\n"
              "@@ -1 +1 @@\n-hello\n+hello, world\n")
    commit = push_it(repo, base, change)
    assert git("show", f"{commit}:greet.txt", cwd=repo) == "hello, world\n"
    assert sorted(p.name for p in markers.iterdir()) == []


@pytest.mark.parametrize("name", ["out/pwned", "../escape", "a/../../escape",
                                  ".git/hooks/post-checkout"])
def test_a_change_that_leaves_the_tree_is_refused_and_writes_nothing_outside(hostile, name):
    repo, base, markers, outside = hostile
    with pytest.raises(GitHubError) as refused:
        push_it(repo, base, new_file(name))
    assert refused.value.status == 409 and refused.value.code == "patch_failed"
    assert list(outside.iterdir()) == []
    assert not (repo.parent / "escape").exists()
    assert list(markers.iterdir()) == []
    assert git("ls-remote", str(repo), "refs/heads/aideator/x", cwd=repo) == ""


def test_names_with_newlines_and_control_characters_stay_file_names(hostile):
    repo, base, markers, _ = hostile
    # As git writes them in a diff: quoted, with C escapes.
    name = '"we\\nird\\033[31m\\001.txt"'
    change = (f"diff --git {name[:1]}a/{name[1:]} {name[:1]}b/{name[1:]}\n"
              f"new file mode 100644\n--- /dev/null\n+++ {name[:1]}b/{name[1:]}\n"
              "@@ -0,0 +1 @@\n+odd\n")
    commit = push_it(repo, base, change)
    files = git("ls-tree", "-r", "-z", "--name-only", commit, cwd=repo).split("\0")
    assert "we\nird\x1b[31m\x01.txt" in files
    assert list(markers.iterdir()) == []


def test_a_diff_past_the_limits_is_refused_before_any_git_runs():
    with pytest.raises(patch.NotExpressible, match="cut at its size"):
        mail_of("diff --git a/a b/a\n", truncated=True)
