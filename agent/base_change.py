"""Start a variation from another run's variation: the parent's base commit plus its change.

The service passes the change as a file, read-only and outside the clone, whose path is
``BASE_PATCH_FILE`` (a unified diff, ``--binary``, as the parent's ``diff`` lines
reported it; a file because a change may be far larger than one environment variable can
hold), the commit it applies to as ``BASE_COMMIT``, and the parent as
``PARENT_RUN_ID``/``PARENT_VARIATION_ID``. After the clone (``--depth 1``
of the default branch) the wrapper checks out ``BASE_COMMIT`` (fetching it first if the
default branch has moved on), applies the patch to the work tree and index, and commits
it in the clone: that commit is the diff's base, so the new run's diff shows only the new
work. This runs before the model or the setup touches the clone, so the clone's own
``.git`` is still the one git wrote; git is the hardened one (``agent/git.py``).
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from typing import Mapping

from . import git

_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
# The parent change's commit is the service's, not a person's.
_IDENTITY = ("-c", "user.name=AIdeator", "-c", "user.email=aideator@localhost",
             "-c", "commit.gpgSign=false")


class BaseChangeError(RuntimeError):
    def __init__(self, message: str, field: str = "BASE_COMMIT") -> None:
        super().__init__(message)
        self.field = field   # the variable at fault, for a config error


@dataclass(frozen=True)
class BaseChange:
    commit: str
    patch: str
    parent_run_id: str
    parent_variation_id: int

    def parent(self) -> dict[str, object]:
        return {"run_id": self.parent_run_id, "variation_id": self.parent_variation_id}


def from_env(env: Mapping[str, str]) -> BaseChange | None:
    """The change to start from, or None; BaseChangeError if the variables are malformed
    or the file cannot be read."""
    path = env.get("BASE_PATCH_FILE") or ""
    if not path:
        return None
    commit = (env.get("BASE_COMMIT") or "").strip()
    if not _COMMIT.fullmatch(commit):
        raise BaseChangeError("BASE_COMMIT must be a commit id when BASE_PATCH_FILE is set")
    try:
        # Bytes decoded as the service wrote them (UTF-8); surrogateescape keeps any other
        # byte as it was, so git applies exactly the stored change.
        with open(path, "rb") as f:
            patch = f.read().decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise BaseChangeError(f"BASE_PATCH_FILE cannot be read: {exc.strerror or exc}",
                              "BASE_PATCH_FILE") from None
    if not patch.strip():
        raise BaseChangeError("BASE_PATCH_FILE is empty", "BASE_PATCH_FILE")
    variation = (env.get("PARENT_VARIATION_ID") or "0").strip()
    return BaseChange(commit=commit, patch=patch,
                      parent_run_id=(env.get("PARENT_RUN_ID") or "").strip()[:63],
                      parent_variation_id=int(variation) if variation.isdigit() else 0)


async def _git(repo: str, *args: str, network: bool = False) -> str:
    code, out, err = await git.run(*args, cwd=repo, network=network)
    if code != 0:
        step = next(a for a in args if not a.startswith("-") and "=" not in a)
        raise BaseChangeError(f"git {step} failed: {err.strip()[-500:] or code}")
    return out.strip()


async def apply(repo: str, change: BaseChange) -> str:
    """Check out ``change.commit`` in the clone ``repo``, apply and commit the patch;
    returns the new commit (the diff's base)."""
    head = await _git(repo, "rev-parse", "HEAD")
    if head != change.commit:
        await _git(repo, "fetch", "-q", "--depth", "1", "--no-tags",
                   "--no-recurse-submodules", "origin", change.commit, network=True)
        await _git(repo, "checkout", "-q", "--detach", change.commit)
    # A copy in the agent's own TMPDIR: git reads a file it may rely on to end in a newline.
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", errors="surrogateescape",
                                     suffix=".patch", delete=False) as f:
        f.write(change.patch if change.patch.endswith("\n") else change.patch + "\n")
        name = f.name
    try:
        await _git(repo, "apply", "--index", "--binary", "--whitespace=nowarn", name)
    finally:
        os.unlink(name)
    await _git(repo, *_IDENTITY, "commit", "-q", "--no-verify", "--allow-empty",
               "-m",
               f"AIdeator: the change of run {change.parent_run_id} variation "
               f"{change.parent_variation_id}")
    return await _git(repo, "rev-parse", "HEAD")
