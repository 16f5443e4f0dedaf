"""Iterating on a variation: what a new run's ``from`` resolves to, and a run's lineage.

The parent's change is copied into the new run when it is made (its commit and patch),
so the new run needs neither the parent's workspace nor the parent row afterwards. A
parent that itself iterated on another run passes its own starting change on too: the
patches apply in order on the first ancestor's commit.
"""
from __future__ import annotations

from typing import Any, Mapping

from .. import auth, patch
from ..models import Run, Variation
from ..naming import is_run_id
from .errors import ApiError


# The change reaches the agent in one environment variable (BASE_PATCH), and Linux caps a
# single one at 128 KiB (MAX_ARG_STRLEN): a larger change would keep the agent from
# starting. Refused here until it travels as a file.
MAX_CHANGE_BYTES = 120 * 1024

def _same_repository(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        url = url.strip().rstrip("/")
        return (url[:-4] if url.endswith(".git") else url).lower()
    return norm(a) == norm(b)


def parent_change(origin: Mapping[str, Any], github_url: str) -> dict[str, Any]:
    """``from`` -> {run_id, variation_id, commit, patch}; a 404 for a run the caller
    cannot see or a variation it lacks, 409 for a variation with no usable change, 422
    for another repository. Reads only: nothing is stored on refusal."""
    run_id, index = str(origin["run_id"]), int(origin["variation_id"])
    run = Run.get_or_none(Run.id == run_id) if is_run_id(run_id) else None
    if run is None or not auth.can_see(run):
        # As for any other access: another principal's run does not exist for the caller.
        raise ApiError(404, "not_found", f"no run with id {run_id[:64]!r}", "from.run_id")
    variation = Variation.get_or_none((Variation.run == run.id) & (Variation.index == index))
    if variation is None:
        raise ApiError(404, "not_found", f"run {run.id} has no variation {index}",
                       "from.variation_id")
    if not _same_repository(github_url, run.github_url):
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
    if len(change.encode("utf-8")) > MAX_CHANGE_BYTES:
        raise ApiError(409, "parent_unusable",
                       f"variation {index} of run {run.id} cannot be iterated on yet: its "
                       f"change (with its ancestors') is over {MAX_CHANGE_BYTES // 1024} KiB, "
                       "more than an agent's environment can carry", "from")
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
