"""The patch of a variation whose run iterates on another: a series of mails.

A child run's diff is against its parent variation's change, not against the base commit
alone, so one mail of it would not apply there. Its patch is the chain: one mail per
ancestor's change, oldest first (each authored by the service, naming its run and
variation), then the child's own. ``git am`` applies the series onto the base commit and
gives the child variation's tree; a pull request pushes those commits.

The ancestors' changes are read from their runs' rows. The run itself holds what its
agents started from (``base_change``: every ancestor's diff, in order, as one patch), so
the chain is used only if it gives back exactly that; when it does not (an ancestor's run
deleted, say) the ancestors' changes go in one mail, from the run's own copy.
"""
from __future__ import annotations

from typing import Callable

from ..github import patch
from ..store import usage
from ..store.models import Run, Variation

# More generations than anyone iterates: past it, the ancestors' changes go in one mail.
MAX_CHAIN = 50

Link = Callable[[str], str | None]


def ancestors(run: Run) -> list[tuple[Run, Variation]] | None:
    """The (run, variation) pairs ``run`` builds on, oldest first; None if the store no
    longer gives back exactly the change ``run`` started from."""
    chain: list[tuple[Run, Variation]] = []
    current, seen = run, {run.id}
    while current.base_change:
        if len(chain) >= MAX_CHAIN or current.parent_run in seen:
            return None
        parent = Run.get_or_none(Run.id == current.parent_run)
        variation = parent and Variation.get_or_none(
            (Variation.run == parent.id) & (Variation.index == current.parent_variation))
        if parent is None or variation is None:
            return None
        chain.append((parent, variation))
        seen.add(parent.id)
        current = parent
    chain.reverse()
    try:
        combined = "".join(patch.diff_of(v.diff, v.status) for _, v in chain)
    except patch.NotExpressible:
        return None
    started_from = (run.base_change or {}).get("patch")
    if started_from is not None and combined != (
            started_from if started_from.endswith("\n") else started_from + "\n"):
        return None
    return chain


def _ancestor_mail(run: Run, v: Variation, link: Link, number: tuple[int, int],
                   base_commit: str | None, builds_on: patch.Parent | None) -> patch.Mail:
    return patch.build(run_id=run.id, variation=v.index, prompt=run.prompt,
                       config=v.config or {}, diff=v.diff, status=v.status,
                       usage=usage.of_variation(run.id, v.index),
                       checks=getattr(v, "checks", None), base_commit=base_commit,
                       date=v.finished_at, link=link(run.id), builds_on=builds_on,
                       subject_prefix=f"Run {run.id} variation {v.index}: ",
                       number=number)


def _combined_mail(run: Run, link: Link, base_commit: str | None) -> patch.Mail:
    """The ancestors' changes in one mail, from the run's own copy of them."""
    parent = f"run {run.parent_run}, variation {run.parent_variation}"
    lines = [f"The change {parent} made, with the changes it built on, as run {run.id} "
             "started from it.", ""]
    if base_commit:
        lines.append(f"Base commit: {base_commit}")
    where = link(str(run.parent_run))
    if where:
        lines.append(f"Run: {where}")
    return patch.assemble(
        subject=patch.subject_of(f"The change of run {run.parent_run} variation "
                                 f"{run.parent_variation} and its ancestors"),
        body="\n".join(lines) + "\n",
        patch=patch.diff_of({"patch": (run.base_change or {}).get("patch")}, "succeeded"),
        number=(1, 2))


def mail_of(run: Run, v: Variation, link: Link) -> patch.Mail:
    """The series for variation ``v`` of ``run`` (a run with a ``base_change``);
    NotExpressible if the child's own change, or its ancestors', cannot be carried."""
    chain = ancestors(run)
    base_commit = v.base_commit or (run.base_change or {}).get("commit")
    mails: list[patch.Mail] = []
    if chain is None:
        mails.append(_combined_mail(run, link, base_commit))
        total = 2
    else:
        total = len(chain) + 1
        before: patch.Parent | None = None
        for i, (ancestor, variation) in enumerate(chain):
            mails.append(_ancestor_mail(ancestor, variation, link, (i + 1, total),
                                        base_commit if i == 0 else None, before))
            before = patch.Parent(ancestor.id, variation.index, link(ancestor.id))
    mails.append(patch.build(
        run_id=run.id, variation=v.index, prompt=run.prompt, config=v.config or {},
        diff=v.diff, status=v.status, usage=usage.of_variation(run.id, v.index),
        checks=getattr(v, "checks", None), base_commit=None, date=v.finished_at,
        link=link(run.id), number=(total, total),
        builds_on=patch.Parent(str(run.parent_run), int(run.parent_variation or 0),
                               link(str(run.parent_run)))))
    return patch.series(mails)

