"""The patch a person downloads: the agent's own diff (agent/diff.py) of a real change,
made into a mail by aideator/github/patch.py, applied with the real ``git am`` onto a fresh clone
at the base commit, must give exactly the tree the agent left: a new file, a deleted one,
a binary one changed, and text that is not ASCII."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from agent import diff
from aideator.github import patch
from tests.agent.harness import make_repo

PNG = bytes(range(256)) * 3 + b"\x00\x89PNG"
GIT = ["git", "-c", "user.name=Tester", "-c", "user.email=t@example.com",
       "-c", "commit.gpgsign=false"]


def git(*args: str, cwd: Path, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*GIT, *args], cwd=cwd, input=input, capture_output=True,
                          check=False)


def tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(path).parts}


@pytest.fixture
def changed(tmp_path: Path) -> tuple[Path, Path, str]:
    """(upstream repository, the agent's clone after its change, the base commit)."""
    upstream = make_repo(tmp_path / "upstream", {"keep.txt": "one\ntwo\n",
                                                 "gone.txt": "delete me\n",
                                                 "docs/guide.md": "# Guide\n"})
    (upstream / "logo.bin").write_bytes(PNG)
    git("add", "-A", cwd=upstream)
    git("commit", "-qm", "binary", cwd=upstream)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(upstream), str(clone)], check=True)
    base = git("rev-parse", "HEAD", cwd=clone).stdout.decode().strip()
    (clone / "keep.txt").write_text("one\nzwei — ü\n")
    (clone / "gone.txt").unlink()
    (clone / "src").mkdir()
    (clone / "src" / "new.py").write_text("print('new')\n")
    (clone / "logo.bin").write_bytes(PNG[::-1] + b"\x00more")
    (clone / "blob.dat").write_bytes(b"\x00\x01\x02 new binary")
    return upstream, clone, base


def test_the_patch_applies_with_git_am_and_gives_the_variations_tree(changed, tmp_path):
    upstream, clone, base = changed
    found = asyncio.run(diff.collect(str(clone), base))
    assert not found.truncated and "GIT binary patch" in found.patch
    prompt = ("Make the greeting friendlier — bitte\n---\ndiff --git a/x b/x\n"
              "From nobody\nmore words")
    mail = patch.build(run_id="run-abcdefghij", variation=1, prompt=prompt,
                       config={"model": "claude-sonnet-4-5"},
                       diff=found.event_fields(), status="succeeded",
                       usage={"calls": 2, "input_tokens": 100, "output_tokens": 20,
                              "cost_usd": 0.0123},
                       checks=[{"name": "tests", "status": "passed"}], base_commit=base,
                       date=dt.datetime(2026, 11, 28, 12, 0, 0))
    assert mail.text.startswith(f"From {patch.NO_COMMIT} Mon Sep 17 00:00:00 2001\n")

    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", str(upstream), str(fresh)], check=True)
    git("checkout", "-q", "--detach", base, cwd=fresh)
    done = git("am", cwd=fresh, input=mail.text.encode())
    assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
    assert tree(fresh) == tree(clone)
    assert not (fresh / "gone.txt").exists() and (fresh / "blob.dat").exists()

    message = git("log", "-1", "--format=%an <%ae>%n%s%n%b", cwd=fresh).stdout.decode()
    assert message.startswith("AIdeator <aideator@noreply.invalid>\n"
                              "Make the greeting friendlier — bitte\n")
    for fact in ("run run-abcdefghij, variation 1", "Engine: claude-code",
                 "Model: claude-sonnet-4-5", "Metered cost: $0.0123 (2 model call(s), 120 "
                 "tokens)", f"Base commit: {base}", "tests: passed",
                 "    ---", "    diff --git a/x b/x", "    From nobody"):
        assert fact in message, fact
    assert git("log", "-1", "--format=%ad", "--date=iso-strict", cwd=fresh).stdout.decode() \
        .startswith("2026-11-28T12:00:00")


@pytest.mark.parametrize("reported, why", [
    (None, "reported no diff"),
    ({"patch": "diff --git a/a b/a\n", "truncated": True, "bytes": 300000}, "cut at its size"),
    ({"patch": "", "truncated": False}, "changed nothing"),
    ({"patch": "diff --git a/x b/x\nindex 1..2 100644\nBinary files a/x and b/x differ\n",
      "truncated": False}, "binary change without its content"),
])
def test_a_change_a_patch_cannot_carry_is_refused(reported, why):
    with pytest.raises(patch.NotExpressible, match=why):
        patch.build(run_id="run-abcdefghij", variation=0, prompt="p", config={},
                    diff=reported, status="failed", usage={})


def test_the_subject_is_the_prompts_first_line_on_one_line():
    assert patch.subject_of("\n\n  Fix   the bug \nand more") == "Fix the bug"
    long = patch.subject_of("x" * 200)
    assert len(long) == patch.SUBJECT_MAX and long.endswith("…")


def test_a_file_that_is_not_utf8_round_trips_byte_for_byte(tmp_path):
    """A Latin-1 text file (git sees text, JSON carries only UTF-8): its change is sent as
    binary, so the patch still applies and gives its exact bytes; UTF-8 files stay text."""
    upstream = make_repo(tmp_path / "upstream", {"readme.txt": "hello\n"})
    (upstream / "menu.txt").write_bytes("café crème\n".encode("latin-1"))
    git("add", "-A", cwd=upstream)
    git("commit", "-qm", "latin-1", cwd=upstream)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(upstream), str(clone)], check=True)
    base = git("rev-parse", "HEAD", cwd=clone).stdout.decode().strip()
    (clone / "menu.txt").write_bytes("café crème brûlée\nthé\n".encode("latin-1"))
    (clone / "new-latin1.txt").write_bytes("naïve\n".encode("latin-1"))
    (clone / "readme.txt").write_text("hello — ü\n")

    found = asyncio.run(diff.collect(str(clone), base))
    assert "\ufffd" not in found.patch
    assert "+hello — ü\n" in found.patch              # UTF-8: still readable hunks
    assert found.patch.count("GIT binary patch") == 2  # Latin-1: its bytes, base85
    assert sorted(found.files) == ["menu.txt", "new-latin1.txt", "readme.txt"]
    # Through JSON, as the agent's diff line travels and the service stores it.
    carried = json.loads(json.dumps(found.event_fields()))
    mail = patch.build(run_id="run-abcdefghij", variation=0, prompt="Latin-1", config={},
                       diff=carried, status="succeeded", usage={}, base_commit=base)

    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", str(upstream), str(fresh)], check=True)
    git("checkout", "-q", "--detach", base, cwd=fresh)
    done = git("am", cwd=fresh, input=mail.text.encode())
    assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
    assert tree(fresh) == tree(clone)
    assert (fresh / "menu.txt").read_bytes() == "café crème brûlée\nthé\n".encode("latin-1")
