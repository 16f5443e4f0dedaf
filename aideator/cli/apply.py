"""Taking a variation's change into the person's working tree, never losing their work.

The change is a patch against the run's base commit: the person's HEAD when the run
started, or a snapshot commit holding their uncommitted changes too, which exists only in
the service's snapshot. So the patch is applied onto the current HEAD (``git apply``,
with a 3-way merge where git has the blobs it needs), not checked out from the base.

Before anything changes, every path the patch touches must be clean in the working tree
and the index (no modification, nothing staged, no untracked file in the way): else the
command refuses and changes nothing. Then either
- a new branch: the change is committed on top of HEAD in a throw-away index, the branch
  made at that commit and checked out; git's checkout carries the person's other
  uncommitted changes along (and would itself refuse before overwriting any), or
- ``--no-branch``: the patch is applied to the working tree only, as uncommitted changes.
"""
from __future__ import annotations

import os
import subprocess
import tempfile


class Refused(Exception):
    pass


def _git(repo: str, *args: str, env: dict | None = None, data: bytes | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["git", "-C", repo, *args], input=data, capture_output=True,
                          env={**os.environ, "LC_ALL": "C", **(env or {})})
    if check and done.returncode != 0:
        raise Refused(f"git {args[0]} failed: "
                      f"{done.stderr.decode('utf-8', 'replace').strip()[-500:]}")
    return done


def toplevel(path: str) -> str:
    done = _git(path, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise Refused(f"{path} is not inside a git repository with a working tree")
    return done.stdout.decode().strip()


def touched(repo: str, patch: str) -> list[str]:
    """Every path the patch reads or writes (both sides of a rename)."""
    done = _git(repo, "apply", "--numstat", "-z", "-", data=patch.encode("utf-8",
                                                                        "surrogateescape"))
    paths, fields = [], done.stdout.split(b"\0")
    i = 0
    while i < len(fields) and fields[i]:
        _, _, name = fields[i].split(b"\t", 2)
        if name:
            paths.append(name)
            i += 1
        else:   # a rename: old and new follow
            paths += fields[i + 1:i + 3]
            i += 3
    found = [p.decode("utf-8", "surrogateescape") for p in paths]
    # numstat names a rename by its new path only: the old one is touched too.
    for line in patch.splitlines():
        if line.startswith(("rename from ", "copy from ")):
            found.append(_unquote(line.split(" from ", 1)[1]))
    return found


def _unquote(name: str) -> str:
    """A path as git writes it in a patch header: C-quoted when it has special bytes."""
    if not (name.startswith('"') and name.endswith('"')):
        return name
    raw = name[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
    return raw.encode("latin-1").decode("utf-8", "surrogateescape")


def dirty(repo: str) -> set[str]:
    """Paths with anything uncommitted: modified, staged, untracked (ignored ones too)."""
    out = _git(repo, "status", "--porcelain=v1", "-z", "-uall", "--ignored=matching").stdout
    found, fields = set(), out.split(b"\0")
    i = 0
    while i < len(fields):
        entry = fields[i]
        if len(entry) > 3:
            found.add(entry[3:].decode("utf-8", "surrogateescape"))
            if entry[:1] in (b"R", b"C"):   # the source of a rename or copy follows
                i += 1
                found.add(fields[i].decode("utf-8", "surrogateescape"))
        i += 1
    return found


def apply(repo: str, patch: str, *, branch: str | None, message: str) -> dict:
    """Apply ``patch`` in ``repo``; returns what was done, or raises :class:`Refused`
    having changed nothing."""
    if not patch.strip():
        raise Refused("the variation changed nothing: there is no change to apply")
    paths = touched(repo, patch)
    conflicting = sorted(set(paths) & dirty(repo))
    if conflicting:
        raise Refused("your working tree has uncommitted changes to files this change "
                      "touches: " + ", ".join(conflicting) + " (commit or stash them, then "
                      "apply again; nothing was changed)")
    data = patch.encode("utf-8", "surrogateescape")
    if branch is None:
        if _git(repo, "apply", "--check", "-", data=data, check=False).returncode == 0:
            _git(repo, "apply", "-", data=data)
        else:
            _merge(repo, data, [])
        return {"applied": "working tree", "files": paths}
    if _git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}",
            check=False).returncode == 0:
        raise Refused(f"a branch named {branch} exists already (choose another with "
                      "--branch; nothing was changed)")
    if _git(repo, "check-ref-format", "--branch", branch, check=False).returncode != 0:
        raise Refused(f"{branch!r} is not a valid branch name")
    with tempfile.TemporaryDirectory(prefix="aideator-apply-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        _git(repo, "read-tree", "HEAD", env=env)
        if _git(repo, "apply", "--cached", "--check", "-", data=data, env=env,
                check=False).returncode == 0:
            _git(repo, "apply", "--cached", "-", data=data, env=env)
        else:
            _merge(repo, data, ["--cached"], env=env)
        tree = _git(repo, "write-tree", env=env).stdout.decode().strip()
    commit = _git(repo, "commit-tree", tree, "-p", "HEAD", "-m", message).stdout.decode() \
        .strip()
    _git(repo, "branch", branch, commit)
    done = _git(repo, "checkout", "-q", branch, check=False)
    if done.returncode != 0:
        _git(repo, "branch", "-D", branch, check=False)
        raise Refused("git would not switch to the new branch without overwriting your "
                      "changes: " + done.stderr.decode("utf-8", "replace").strip()[-500:])
    return {"applied": "branch", "branch": branch, "commit": commit, "files": paths}


def _merge(repo: str, data: bytes, args: list[str], env: dict | None = None) -> None:
    """The patch does not apply to HEAD as it is (it moved on since the run): a 3-way
    merge, which needs the blobs the patch starts from, tried first in a throw-away index
    so that one with conflicts is refused before anything changes."""
    with tempfile.TemporaryDirectory(prefix="aideator-merge-") as tmp:
        trial = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        _git(repo, "read-tree", "HEAD", env=trial)
        done = _git(repo, "apply", "--cached", "--3way", "-", data=data, env=trial,
                    check=False)
    if done.returncode != 0:
        raise Refused("the change does not apply to your HEAD without conflicts: "
                      + done.stderr.decode("utf-8", "replace").strip()[-500:]
                      + " (nothing was changed)")
    if "--cached" in args:
        _git(repo, "apply", *args, "--3way", "-", data=data, env=env)
        return
    # --3way stages what it applies: the paths were clean, so unstaging them leaves the
    # change as uncommitted changes in the working tree only.
    _git(repo, "apply", "--3way", "-", data=data, env=env)
    _git(repo, "reset", "-q", "--", *touched(repo, data.decode("utf-8", "surrogateescape")))
