"""What the agent changed in its clone, as one bounded unified diff.

New files count too: they are marked intent-to-add first, so ``git diff HEAD`` shows them
as additions without staging their content. Renames are reported as delete + add so every
path in ``files`` is a plain path of the tree.
"""
from __future__ import annotations

from dataclasses import dataclass

from .clone import run_git
from .output import clip

MAX_DIFF_BYTES = 256 * 1024
# Repository-defined diff drivers and textconv filters could run programs; never use them.
_DIFF = ("-c", "core.quotepath=off", "diff", "--no-color", "--no-ext-diff", "--no-textconv",
         "--no-renames")


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

    def event_fields(self) -> dict[str, object]:
        return {"patch": self.patch, "truncated": self.truncated, "bytes": self.bytes,
                "files": self.files, "additions": self.additions,
                "deletions": self.deletions}


async def _git(repo: str, *args: str) -> str:
    code, out, err = await run_git(*args, cwd=repo)
    if code != 0:
        raise DiffError(f"git {args[0] if args[0] != '-c' else args[2]} failed: "
                        f"{err.strip() or code}")
    return out


async def collect(repo: str, limit: int = MAX_DIFF_BYTES) -> Diff:
    await _git(repo, "add", "--intent-to-add", "--all")
    # Against HEAD, not the index: ``add --all`` records deletions in the index too.
    patch = await _git(repo, *_DIFF, "HEAD", "--")
    numstat = await _git(repo, *_DIFF, "--numstat", "-z", "HEAD", "--")
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
    size = len(patch.encode("utf-8", "replace"))
    shown, truncated = clip(patch, limit)
    if truncated and "\n" in shown:
        # Whole lines only, so a consumer can still parse what it got.
        shown = shown[: shown.rindex("\n") + 1]
    return Diff(shown, truncated, size, files, additions, deletions)
