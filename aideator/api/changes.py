"""What to do with a variation's change: download it as a patch (``git am``-able), or
open a pull request with it on GitHub. A run iterating on another gives a series: its
ancestors' changes, then its own (``series.py``)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ..access import auth
from ..github import patch, pulls, tokens
from ..github.rest import GitHubError
from ..store import usage
from ..store.models import Run, Variation
from . import series
from .errors import ApiError
from .github import github_error
from .runs import get_run

bp = Blueprint("changes", __name__)


def _variation(run: Run, index: int) -> Variation:
    variation = Variation.get_or_none((Variation.run == run.id) & (Variation.index == index)) \
        if index < run.variation_count else None
    if variation is None:
        raise ApiError(404, "not_found", f"run {run.id} has no variation {index}")
    return variation


def run_link(run_id: str) -> str:
    return f"{request.host_url.rstrip('/')}/runs/{run_id}"


def mail_of(run: Run, v: Variation, links: bool = False) -> patch.Mail:
    """The variation's patch mail (a series, for a run iterating on another: the
    ancestors' changes first); a 409 if it has no change a patch can carry. ``links``:
    the body links the run (and its ancestors), as a pull request's does."""
    link = run_link if links else (lambda run_id: None)
    try:
        if run.base_change:
            return series.mail_of(run, v, link)
        return patch.build(run_id=run.id, variation=v.index, prompt=run.prompt,
                           config=v.config or {}, diff=v.diff, status=v.status,
                           usage=usage.of_variation(run.id, v.index),
                           # Check results, where the variation has them (a later field).
                           checks=getattr(v, "checks", None), base_commit=v.base_commit,
                           date=v.finished_at, link=link(run.id))
    except patch.NotExpressible as exc:
        raise ApiError(409, "patch_unavailable",
                       f"variation {v.index} of run {run.id}: {exc}") from None


@bp.get("/runs/<run_id>/variations/<int:variation_id>/patch")
def get_patch(run_id: str, variation_id: int) -> Any:
    run = get_run(run_id)
    variation = _variation(run, variation_id)
    mail = mail_of(run, variation)
    response = Response(mail.text, mimetype="text/x-patch")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{run.id}-{variation.index}.patch"')
    return response


@bp.post("/runs/<run_id>/variations/<int:variation_id>/pull-request")
def create_pull_request(run_id: str, variation_id: int) -> Any:
    run = get_run(run_id)
    variation = _variation(run, variation_id)
    settings = current_app.extensions["aideator"].settings
    caller = auth.actor()[0]
    if run.source and not run.github_url.startswith("https://github.com/"):
        raise ApiError(409, "not_on_github",
                       "this run's repository is on the service's machine with no GitHub "
                       "remote, or its snapshot holds uncommitted changes GitHub does not "
                       "have: take the change as a patch (or `aideator apply`)")
    try:
        opened = pulls.open_pull_request(
            run_id=run.id, variation=variation.index, github_url=run.github_url,
            base_commit=variation.base_commit or (run.base_change or {}).get("commit"),
            token=tokens.token_of(caller, settings),
            by=caller, settings=settings, mail=lambda: mail_of(run, variation, links=True))
    except GitHubError as exc:
        raise github_error(exc) from None
    body = {"run_id": run.id, "variation_id": variation.index, **pulls.view(opened.row)}
    return jsonify(body), 201 if opened.created else 200
