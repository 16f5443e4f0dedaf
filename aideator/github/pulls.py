"""A pull request from a variation: its change pushed as ``aideator/<run_id>-<v>`` on top
of the base commit, then opened against the repository's default branch.

Once per variation, whoever asks and however many ask at once: the ``PullRequest`` row is
claimed (inserted as ``opening``; the unique (run, variation) index lets one insert win)
before anything is pushed. The others wait for it and return the same pull request. A
claim left by a process that died stops counting after ``CLAIM_SECONDS``.

Nothing half-done: a refusal before the push leaves nothing; if GitHub refuses to open
the pull request after the push, the branch is deleted again. Either way the claim goes,
so the request can be made again.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import gevent
from peewee import IntegrityError

from ..config import Settings
from ..store.models import PullRequest, connection, utcnow
from . import push
from .names import repo_of
from .rest import Client, GitHubError

log = logging.getLogger(__name__)

CLAIM_SECONDS = 600.0
WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Opened:
    row: PullRequest
    created: bool   # by this request (201), or an earlier one (200)


def branch_of(run_id: str, variation: int) -> str:
    return f"aideator/{run_id}-{variation}"


def view(row: PullRequest | None) -> dict[str, Any] | None:
    if row is None or row.state != "open":
        return None
    return {"number": row.number, "url": row.url, "branch": row.branch,
            "created_at": row.created_at.isoformat(timespec="milliseconds") + "Z"
            if row.created_at else None}


def of_run(run_id: str) -> dict[int, dict[str, Any]]:
    with connection():
        rows = PullRequest.select().where((PullRequest.run == run_id)
                                          & (PullRequest.state == "open"))
        return {row.variation: view(row) for row in rows}


def _where(run_id: str, variation: int) -> Any:
    return (PullRequest.run == run_id) & (PullRequest.variation == variation)


def _claim(run_id: str, variation: int, branch: str, by: str | None) -> PullRequest | None:
    """Claim the variation's pull request; None if it is claimed or open already."""
    now = time.time()
    with connection():
        try:
            PullRequest.insert(run=run_id, variation=variation, state="opening",
                               claimed_at=now, branch=branch, created_by=by).execute()
            return PullRequest.get(_where(run_id, variation))
        except IntegrityError:
            pass
        # A dead process's claim: take it over, if nobody else just did.
        taken = (PullRequest.update(claimed_at=now, created_by=by)
                 .where(_where(run_id, variation) & (PullRequest.state == "opening")
                        & (PullRequest.claimed_at < now - CLAIM_SECONDS)).execute())
        return PullRequest.get(_where(run_id, variation)) if taken else None


def _wait_for_other(run_id: str, variation: int) -> PullRequest:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with connection():
            row = PullRequest.get_or_none(_where(run_id, variation))
        if row is None or row.state == "open":
            if row is None:   # the other request failed: say so, the caller may retry
                raise GitHubError(409, "pull_request_failed",
                                  "another request for this pull request failed just now; "
                                  "retry to see why")
            return row
        gevent.sleep(0.2)
    raise GitHubError(409, "pull_request_in_progress",
                      "this variation's pull request is being opened by another request",
                      retry_after=5)


def open_pull_request(*, run_id: str, variation: int, github_url: str,
                      base_commit: str | None, token: str | None, by: str | None,
                      settings: Settings, mail: Callable[[], Any]) -> Opened:
    """The variation's pull request, opened now or earlier. ``mail()`` builds its patch
    (``patch.Mail``) and raises ``patch.NotExpressible`` if there is none."""
    with connection():
        row = PullRequest.get_or_none(_where(run_id, variation))
    if row is not None and row.state == "open":
        return Opened(row, False)
    if token is None:
        raise GitHubError(409, "github_not_connected",
                          "connect GitHub first: store a token that can push to the "
                          "repository (PUT /api/v1/github, or Connect GitHub in the web app)")
    names = repo_of(github_url)
    if names is None or base_commit is None:
        raise GitHubError(409, "no_base_commit",
                          "the variation's base commit is unknown (its agent did not report "
                          "its clone): a branch cannot be made")
    message = mail()   # before the claim: a change with no patch claims nothing
    branch = branch_of(run_id, variation)
    claimed = _claim(run_id, variation, branch, by)
    if claimed is None:
        return Opened(_wait_for_other(run_id, variation), False)
    try:
        number, url = _open(names, branch, base_commit, token, message, settings)
    except BaseException:
        with connection():
            PullRequest.delete().where(_where(run_id, variation)
                                       & (PullRequest.state == "opening")).execute()
        raise
    with connection():
        PullRequest.update(state="open", number=number, url=url, created_at=utcnow()) \
            .where(_where(run_id, variation)).execute()
        return Opened(PullRequest.get(_where(run_id, variation)), True)


def _open(names: tuple[str, str], branch: str, base_commit: str, token: str, message: Any,
          settings: Settings) -> tuple[int, str]:
    owner, repo = names
    client = Client(settings.github_api_url, token)
    info = client.repository(owner, repo)
    if info.get("archived"):
        raise GitHubError(403, "github_archived",
                          f"GitHub: {owner}/{repo} is archived (read-only): nothing can "
                          f"be pushed to it")
    permissions = info.get("permissions")
    if isinstance(permissions, dict) and permissions.get("push") is False:
        raise GitHubError(403, "github_no_push_permission",
                          f"GitHub: the connected token cannot push to {owner}/{repo}")
    # A pull request an earlier, interrupted request opened: it is this one.
    found = client.find_pull(owner, repo, branch)
    if found is not None:
        return int(found["number"]), str(found["html_url"])
    repo_url = f"{settings.github_url.rstrip('/')}/{owner}/{repo}.git"
    push.push_branch(repo_url=repo_url, token=token, base_commit=base_commit,
                     mail=message.text, branch=branch)
    try:
        made = client.create_pull(owner, repo, head=branch,
                                  base=str(info.get("default_branch") or "main"),
                                  title=message.subject, body=message.body)
    except BaseException:
        _remove_branch(client, owner, repo, branch, repo_url, token)
        raise
    log.info("pull request #%s opened on %s/%s from %s", made.get("number"), owner, repo,
             branch)
    return int(made["number"]), str(made["html_url"])


def _remove_branch(client: Client, owner: str, repo: str, branch: str, repo_url: str,
                   token: str) -> None:
    """Take the pushed branch away again: through the API, else with git."""
    try:
        client.delete_branch(owner, repo, branch)
        return
    except GitHubError as exc:
        log.warning("deleting branch %s through the API failed (%s); trying git", branch,
                    exc.code)
    try:
        push.delete_branch(repo_url=repo_url, token=token, branch=branch)
    except GitHubError as exc:
        log.error("branch %s of %s/%s was pushed but its pull request failed, and it could "
                  "not be deleted: %s", branch, owner, repo, exc.detail)
