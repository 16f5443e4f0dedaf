"""Iterating on a variation: what a new run's ``from`` resolves to, and a run's lineage.

The parent's change is copied into the new run when it is made (its commit and patch),
so the new run needs neither the parent's workspace nor the parent row afterwards. A
parent that itself iterated on another run passes its own starting change on too: the
patches apply in order on the first ancestor's commit.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..access import auth
from ..github import patch
from ..naming import is_run_id
from ..store.models import Run, Variation
from .errors import ApiError

# The change reaches the agent as a file (BASE_PATCH_FILE). On Kubernetes that file is a
# key of the Job's Secret, which the API server caps at 1 MiB in all (MaxSecretSize), and
# the same Secret holds the prompt (32,000 characters: at most 128,000 bytes), the setup
# (4,096 characters), the checks (5 commands of 4,000 characters, as JSON: at most
# about 121,000 bytes) and the variation's credentials (well under 1 KiB): at most about
# 266,000 bytes, so 720 KiB (737,280 bytes) of change always fits with them. The local
# runtime has no such limit, but the same cap holds on both, so a run that iterates on one
# could iterate on the other.
MAX_CHANGE_BYTES = 720 * 1024

def _same_repository(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        url = url.strip().rstrip("/")
        return (url[:-4] if url.endswith(".git") else url).lower()
    return norm(a) == norm(b)


def parent_run(origin: Mapping[str, Any]) -> Run:
    """The run ``from`` names, if the caller may see it (else 404)."""
    run_id = str(origin["run_id"])
    run = Run.get_or_none(Run.id == run_id) if is_run_id(run_id) else None
    if run is None or not auth.can_see(run):
        # As for any other access: another principal's run does not exist for the caller.
        raise ApiError(404, "not_found", f"no run with id {run_id[:64]!r}", "from.run_id")
    return run


def parent_change(origin: Mapping[str, Any], github_url: str | None) -> dict[str, Any]:
    """``from`` -> {run_id, variation_id, commit, patch}; a 404 for a run the caller
    cannot see or a variation it lacks, 409 for a variation with no usable change, 422
    for another repository (``github_url`` None: a local one, checked by the caller).
    Reads only: nothing is stored on refusal."""
    index = int(origin["variation_id"])
    run = parent_run(origin)
    variation = Variation.get_or_none((Variation.run == run.id) & (Variation.index == index))
    if variation is None:
        raise ApiError(404, "not_found", f"run {run.id} has no variation {index}",
                       "from.variation_id")
    if github_url is not None and not _same_repository(github_url, run.github_url):
        raise ApiError(422, "validation_error",
                       f"github_url: must be the repository of run {run.id} "
                       f"({run.github_url}) when iterating on it", "github_url")
    try:
        diff = patch.diff_of(variation.diff, variation.status)
    except patch.NotExpressible as exc:
        raise ApiError(409, "parent_unusable", f"variation {index} of run {run.id} cannot "
                                               f"be iterated on: {exc}", "from") from None
    inherited = run.base_change or {}
    commit = inherited.get("commit") or variation.base_commit
    if not commit:
        raise ApiError(409, "parent_unusable",
                       f"variation {index} of run {run.id} cannot be iterated on: its clone "
                       "never reported the commit it started from", "from")
    change = (inherited.get("patch") or "") + diff
    size = len(change.encode("utf-8", "surrogateescape"))
    if size > MAX_CHANGE_BYTES:
        raise ApiError(409, "parent_unusable",
                       f"variation {index} of run {run.id} cannot be iterated on: its change "
                       f"(with its ancestors') is {size // 1024} KiB, over the "
                       f"{MAX_CHANGE_BYTES // 1024} KiB a run can start from", "from")
    return {"run_id": run.id, "variation_id": index, "commit": commit, "patch": change}


def parent_of(run: Run) -> dict[str, Any] | None:
    if run.parent_run is None:
        return None
    return {"run_id": run.parent_run, "variation_id": run.parent_variation}


def children_of(run: Run) -> list[str]:
    """The runs iterating on this one that the caller may see, oldest first."""
    query = Run.select(Run.id).where(Run.parent_run == run.id)
    principal = auth.current()
    if principal is not None and not principal.admin:
        query = query.where(Run.created_by == principal.id)
    return [r.id for r in query.order_by(Run.created_at, Run.id)]
