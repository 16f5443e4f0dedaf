"""What the agent changed in its clone, as one bounded unified diff.

New files count too: they are marked intent-to-add first, so ``git diff HEAD`` shows them
as additions without staging their content. Renames are reported as delete + add so every
path in ``files`` is a plain path of the tree.

The diff is taken through a git directory the wrapper makes for it, after the model is
done, not through the clone's own ``.git``: the model (with a shell) can write anything
there, and git runs programs its config names. Fixed ``-c`` options (``agent/git.py``) turn
off fsmonitor, hooks, the pager and external diff, but a clean/process filter can be
defined under any ``filter.<name>`` key and selected by a ``.gitattributes`` line in the
tree, so no fixed list of overrides covers it. A fresh git directory has no config for
those keys to come from: it holds only ``HEAD`` (the commit the clone checked out, recorded
before the model ran), its own index, ``info/attributes`` unsetting ``filter`` for every
path, and an ``alternates`` entry that borrows the clone's objects (read as data, never run).
The work tree is the clone; git never looks into a ``.git`` entry of the tree it walks.

The diff shows the model's change only: what the setup (and the baseline checks) created
or changed before the model started is recorded then (:func:`untouched`, ``git status``
through the same kind of git directory, untracked directories collapsed: ``.venv/``, not
its ten thousand files) and those paths are left out. A tracked file both setup and the
model changed is left out too; the ``diff`` line says which paths were excluded.

The patch travels as JSON text, so it must be UTF-8. A text file in another encoding
(Latin-1, say) would come out of ``git diff`` with bytes no decoder keeps, and its patch
would no longer apply. Such a file's change is taken again as binary (``-diff`` for just
those paths, ``--binary``: base85, ASCII), so it round-trips byte for byte; every UTF-8
file keeps its readable text hunks.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass

from . import git
from .output import clip

MAX_DIFF_BYTES = 256 * 1024
# Repository-defined diff drivers and textconv filters could run programs; never use them.
# --binary: a binary file's change is in the patch (base85), so ``git am`` can apply it.
_DIFF = ("-c", "core.quotepath=off", "diff", "--no-color", "--no-ext-diff", "--no-textconv",
         "--no-renames", "--binary")


class DiffError(RuntimeError):
    pass


@dataclass(frozen=True)
class Diff:
    patch: str
    truncated: bool
    bytes: int
    files: list[str]
    additions: int
    deletions: int
    excluded: list[str]

    def event_fields(self) -> dict[str, object]:
        return {"patch": self.patch, "truncated": self.truncated, "bytes": self.bytes,
                "files": self.files, "additions": self.additions,
                "deletions": self.deletions, "excluded": self.excluded}


# Where one file's part of a patch starts.
_FILE_START = re.compile(rb"^(?=diff --git )", re.MULTILINE)
# A git directory's attributes: never a filter; with BINARY, every path diffed as binary.
_ATTRIBUTES = "* -filter\n"
_BINARY = "* -filter -diff\n"


async def _git_bytes(where: tuple[str, ...], repo: str, *args: str) -> bytes:
    code, out, err = await git.run_bytes(*where, *args, cwd=repo)
    if code != 0:
        step = next(a for a in args if not a.startswith("-") and "=" not in a)
        raise DiffError(f"git {step} failed: {err.strip() or code}")
    return out


async def _git(where: tuple[str, ...], repo: str, *args: str) -> str:
    return (await _git_bytes(where, repo, *args)).decode("utf-8", "replace")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _sections(patch: bytes) -> list[bytes]:
    """The patch cut into one part per file (in git's order, as ``--numstat`` lists them)."""
    return [part for part in _FILE_START.split(patch) if part]


async def _as_binary(git_dir: str, where: tuple[str, ...], repo: str,
                     paths: tuple[str, ...], *, quote: bool = False) -> bytes:
    """The diff of ``paths`` with every file taken as binary (``quote``: paths that are
    not ASCII written as git's octal escapes, which ``git apply`` reads back)."""
    with open(os.path.join(git_dir, "info", "attributes"), "w", encoding="utf-8") as f:
        f.write(_BINARY)
    try:
        args = ("-c", "core.quotepath=on", *_DIFF[2:]) if quote else _DIFF
        return await _git_bytes(where, repo, *args, "HEAD", "--", *paths)
    finally:
        with open(os.path.join(git_dir, "info", "attributes"), "w", encoding="utf-8") as f:
            f.write(_ATTRIBUTES)


async def _utf8_patch(raw: bytes, files: list[str], git_dir: str, where: tuple[str, ...],
                      repo: str, paths: tuple[str, ...]) -> str:
    """``raw`` as text, the part of each file that is not UTF-8 taken again as binary."""
    if _is_utf8(raw):
        return raw.decode("utf-8")
    parts = _sections(raw)
    bad = [i for i, part in enumerate(parts) if not _is_utf8(part)]
    if len(parts) == len(files):
        again = _sections(await _as_binary(
            git_dir, where, repo, tuple(f":(literal){files[i]}" for i in bad)))
        if len(again) == len(bad) and all(_is_utf8(part) for part in again):
            for i, part in zip(bad, again):
                parts[i] = part
            return b"".join(parts).decode("utf-8")
    # The parts and the paths do not pair up (a path that is not UTF-8 itself, say): the
    # whole change as binary still applies exactly; only its text is not shown.
    whole = await _as_binary(git_dir, where, repo, paths, quote=True)
    return whole.decode("utf-8", "replace")


def _make_git_dir(git_dir: str, repo: str, base: str) -> None:
    """A git directory nobody else configured, in the empty ``git_dir``: see the docstring."""
    for sub in ("refs", "objects/info", "info"):
        os.makedirs(os.path.join(git_dir, sub))
    files = {
        "HEAD": base + "\n",
        "config": "[core]\n\trepositoryformatversion = 0\n\tbare = false\n",
        "objects/info/alternates": os.path.join(os.path.abspath(repo), ".git", "objects") + "\n",
        # Highest-precedence attributes: no path gets a filter, whatever .gitattributes say.
        "info/attributes": _ATTRIBUTES,
    }
    for name, content in files.items():
        with open(os.path.join(git_dir, name), "w", encoding="utf-8") as f:
            f.write(content)


def _check_commit(base: str) -> None:
    if not (len(base) in (40, 64) and all(c in "0123456789abcdef" for c in base)):
        raise DiffError(f"not a commit id: {base!r}")


async def untouched(repo: str, base: str) -> list[str]:
    """The paths that differ from commit ``base`` now (before the model): changed or
    deleted tracked files, and untracked files and directories (a directory as ``dir``,
    once), ignored ones aside (the diff leaves those out anyway)."""
    _check_commit(base)
    with tempfile.TemporaryDirectory(prefix="aideator-status-") as git_dir:
        _make_git_dir(git_dir, repo, base)
        where = (f"--git-dir={git_dir}", f"--work-tree={repo}")
        await _git(where, repo, "read-tree", base)
        out = await _git(where, repo, "status", "--porcelain=v1", "-z", "--no-renames",
                         "--untracked-files=normal")
    # "XY path" records; renames are off, so each record is one path.
    return sorted({record[3:].rstrip("/") for record in out.split("\0") if len(record) > 3})


def _excluding(paths: list[str]) -> tuple[str, ...]:
    if not paths:
        return ()
    return (".", *(f":(exclude,literal){path}" for path in paths))


async def collect(repo: str, base: str, limit: int = MAX_DIFF_BYTES, *,
                  exclude: list[str] | None = None) -> Diff:
    """The changes in the work tree ``repo`` since commit ``base``, but for the paths in
    ``exclude`` (and everything under them)."""
    _check_commit(base)
    exclude = list(exclude or [])
    paths = _excluding(exclude)
    with tempfile.TemporaryDirectory(prefix="aideator-diff-") as git_dir:
        _make_git_dir(git_dir, repo, base)
        where = (f"--git-dir={git_dir}", f"--work-tree={repo}")
        await _git(where, repo, "read-tree", base)
        await _git(where, repo, "add", "--intent-to-add", "--all", "--", *paths)
        # Against HEAD, not the index: ``add --all`` records deletions in the index too.
        raw = await _git_bytes(where, repo, *_DIFF, "HEAD", "--", *paths)
        numstat = await _git(where, repo, *_DIFF, "--numstat", "-z", "HEAD", "--", *paths)
        files: list[str] = []
        additions = deletions = 0
        for record in numstat.split("\0"):
            parts = record.split("\t", 2)
            if len(parts) != 3:
                continue
            added, deleted, path = parts
            files.append(path)
            # Binary files show "-" for both counts.
            additions += int(added) if added.isdigit() else 0
            deletions += int(deleted) if deleted.isdigit() else 0
        patch = await _utf8_patch(raw, files, git_dir, where, repo, paths)
    size = len(patch.encode("utf-8", "replace"))
    shown, truncated = clip(patch, limit)
    if truncated and "\n" in shown:
        # Whole lines only, so a consumer can still parse what it got.
        shown = shown[: shown.rindex("\n") + 1]
    return Diff(shown, truncated, size, files, additions, deletions, exclude)
