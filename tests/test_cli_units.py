"""The command line's parts that need no service: taking a change into a working tree
(real git, temporary repositories), how events read in the terminal, and a start that
loads nothing of the service."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aideator.cli import apply, render
from aideator.cli.main import _checks

from helpers import git, new_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo", {"a.txt": "one\ntwo\nthree\n", "b.txt": "bee\n"})


def change(repo: Path, edit) -> str:
    """The patch ``edit`` makes to a copy of ``repo`` (as a variation's diff would be)."""
    copy = repo.parent / "copy"
    subprocess.run(["git", "clone", "-q", str(repo), str(copy)], check=True)
    edit(copy)
    git(copy, "add", "-A")
    return git(copy, "diff", "--cached", "-M", "--binary")


def snapshot_of(repo: Path) -> tuple:
    return (git(repo, "status", "--porcelain", "-uall"), git(repo, "for-each-ref"),
            {p.name: p.read_bytes() for p in repo.iterdir() if p.is_file()})


def test_a_rename_from_a_file_the_person_changed_is_refused(repo: Path):
    patch = change(repo, lambda c: git(c, "mv", "a.txt", "c.txt"))
    (repo / "a.txt").write_text("mine\n")
    before = snapshot_of(repo)
    for branch in ("aideator/x", None):
        with pytest.raises(apply.Refused, match="touches: a.txt"):
            apply.apply(str(repo), patch, branch=branch, message="m")
        assert snapshot_of(repo) == before


def test_an_untracked_or_ignored_file_in_the_way_is_refused(repo: Path):
    patch = change(repo, lambda c: (c / "new.txt").write_text("new\n"))
    (repo / "new.txt").write_text("the person's own\n")
    before = snapshot_of(repo)
    with pytest.raises(apply.Refused, match="touches: new.txt"):
        apply.apply(str(repo), patch, branch=None, message="m")
    assert snapshot_of(repo) == before


def test_a_change_applies_onto_a_head_that_moved_on(repo: Path):
    patch = change(repo, lambda c: (c / "a.txt").write_text("one\ntwo\nTHREE\n"))
    (repo / "a.txt").write_text("ONE\ntwo\nthree\n")
    git(repo, "commit", "-q", "-am", "the person went on")
    done = apply.apply(str(repo), patch, branch="aideator/run-1-v0", message="AIdeator")
    assert done["files"] == ["a.txt"]
    assert git(repo, "show", "HEAD:a.txt") == "ONE\ntwo\nTHREE\n"
    assert git(repo, "log", "--format=%s", "-1").strip() == "AIdeator"


def test_a_branch_that_exists_is_not_overwritten(repo: Path):
    patch = change(repo, lambda c: (c / "b.txt").write_text("buzz\n"))
    git(repo, "branch", "taken")
    before = snapshot_of(repo)
    with pytest.raises(apply.Refused, match="exists already"):
        apply.apply(str(repo), patch, branch="taken", message="m")
    assert snapshot_of(repo) == before


def test_a_conflicting_change_is_refused_whole(repo: Path):
    patch = change(repo, lambda c: (c / "a.txt").write_text("one\n2\nthree\n"))
    (repo / "a.txt").write_text("one\nzwei\nthree\n")
    git(repo, "commit", "-q", "-am", "conflicting")
    before = snapshot_of(repo)
    for branch in (None, "aideator/x"):
        with pytest.raises(apply.Refused, match="does not apply to your HEAD without "
                                                "conflicts"):
            apply.apply(str(repo), patch, branch=branch, message="m")
        assert snapshot_of(repo) == before


def test_without_a_branch_a_moved_head_gets_the_change_unstaged(repo: Path):
    patch = change(repo, lambda c: (c / "a.txt").write_text("one\ntwo\nTHREE\n"))
    (repo / "a.txt").write_text("ONE\ntwo\nthree\n")
    git(repo, "commit", "-q", "-am", "the person went on")
    apply.apply(str(repo), patch, branch=None, message="m")
    assert (repo / "a.txt").read_text() == "ONE\ntwo\nTHREE\n"
    assert git(repo, "status", "--porcelain") == " M a.txt\n"


def test_events_read_as_one_line_each_prefixed_by_variation():
    thinking = render.event_line("agent_output", {"variation_id": 1, "type": "thinking",
                                                  "content": {"thinking": "hmm\nwhat if"}})
    assert thinking.plain == "v1 │ hmm what if" and "dim" in str(thinking.spans[-1].style)
    tool = render.event_line("agent_output", {
        "variation_id": 0, "type": "tool_use",
        "content": {"name": "Bash", "input": {"command": "pytest -q"}}})
    assert tool.plain == "v0 │ ⚙ Bash(pytest -q)"
    assert render.event_line("agent_output", {"variation_id": 0, "type": "text_delta",
                                              "content": {"text": "x"}}) is None


def test_check_names_follow_the_apis_rules():
    assert [c["name"] for c in _checks(("pytest -q", "ruff check . && mypy", "pytest -q",
                                        "./lint"))] == [
        "pytest -q", "ruff check . - mypy", "check 3", "check 4"]


def test_the_command_starts_without_loading_the_service():
    probe = ("import sys, json; import aideator.cli.main; "
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('flask', 'peewee', 'gevent', 'kubernetes', 'psycopg'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out) == []
