"""Runs: create, list, inspect, check status, compare, select the winner, cancel, delete."""
from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import gevent
from flask import Blueprint, current_app, jsonify, request

from ..access import auth, limits
from ..naming import is_run_id, new_run_id
from ..runs import deletion
from ..runs.request import checks, setup_request, variation_configs
from ..schemas import ValidationFailed
from ..store.models import RUN_ENDED, Run, Selection, Variation, db, utcnow
from . import comparison, lineage, local_source, views
from .errors import ApiError, json_body

bp = Blueprint("runs", __name__)


def service() -> Any:
    return current_app.extensions["aideator"]


def get_run(run_id: str) -> Run:
    """The run, if the caller may see it: another principal's run does not exist for them."""
    run = Run.get_or_none(Run.id == run_id) if is_run_id(run_id) else None
    if run is None or not auth.can_see(run):
        raise ApiError(404, "not_found", f"no run with id {run_id[:64]!r}")
    return run


@bp.post("/runs")
def create_run() -> Any:
    body = json_body(request, "CreateRunRequest")
    if service().draining:
        # Its runs are handed over: one started now would be left to wait for its lease.
        raise ApiError(503, "shutting_down", "this replica is shutting down; retry the "
                                             "request (another replica will take it)",
                       headers={"Retry-After": "1"})
    settings = service().settings
    principal = auth.current()
    quota = limits.Limits.of(settings, principal.limits if principal else {})
    try:
        configs = limits.cap_budgets(body, variation_configs(body, settings.default_model),
                                     quota)
        run_checks = checks(body)
        setup = setup_request(body)
    except ValidationFailed as exc:
        raise ApiError(422, "validation_error", exc.message, exc.field) from None
    if ("repo_path" in body) == ("github_url" in body):
        raise ApiError(422, "validation_error", "github_url or repo_path: give exactly one "
                                                "(a GitHub repository or a local one)",
                       "github_url")
    local_path = local_source.resolve(body, settings) if "repo_path" in body else None
    for name in ("ref", "include_uncommitted"):
        if name in body and local_path is None:
            raise ApiError(422, "validation_error", f"{name}: only with repo_path", name)
    parent = None
    if "from" in body:
        local_source.check_parent(lineage.parent_run(body["from"]), local_path)
        parent = lineage.parent_change(body["from"], body.get("github_url"))
    created_by = auth.actor()
    run_id, github_url, source = None, body.get("github_url"), None
    if local_path is not None:
        run_id = new_run_id()
        github_url, source = local_source.take(
            body, settings, local_path, run_id,
            Run.get_by_id(parent["run_id"]) if parent else None)
    try:
        run = service().orchestrator.submit(
            github_url=github_url, prompt=body["prompt"],
            agent_config=body.get("agent_config", {}), variation_configs=configs,
            checks=run_checks, setup=setup,
            created_by=created_by, admit=lambda: limits.admit(created_by[0], quota),
            parent=parent, run_id=run_id, source=source)
    except limits.LimitExceeded as exc:
        if run_id is not None:
            local_source.discard(settings, run_id)
        raise ApiError(429, "limit_exceeded", exc.detail,
                       headers={"Retry-After": str(exc.retry_after)}) from None
    url = views.stream_link(run.id, principal, settings)["stream_url"]
    response = jsonify({"run_id": run.id, "stream_url": url,
                        "job_names": [v.job_name for v in
                                      run.variations.order_by(Variation.index)]})
    response.headers["Location"] = f"/api/v1/runs/{run.id}"
    return response, 202


@bp.get("/runs")
def list_runs() -> Any:
    try:
        limit = int(request.args.get("limit", 20))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise ApiError(400, "invalid_parameter", "limit must be an integer from 1 to 100",
                       "limit")
    query = Run.select().order_by(Run.created_at.desc(), Run.id.desc())
    principal = auth.current()
    if principal is not None and not principal.admin:
        query = query.where(Run.created_by == principal.id)
    cursor = request.args.get("cursor")
    if cursor is not None:
        match = CURSOR.match(cursor)
        if match is None:
            raise ApiError(400, "invalid_parameter",
                           "cursor must be the next_cursor of a previous page", "cursor")
        # A time past what dates can hold is after every run.
        micros = min(int(match["micros"]), MAX_CURSOR_MICROS)
        created = EPOCH + dt.timedelta(microseconds=micros)
        query = query.where((Run.created_at < created)
                            | ((Run.created_at == created) & (Run.id < match["run_id"])))
    runs = list(query.limit(limit + 1))
    winners = dict(Selection.select(Selection.run, Selection.variation)
                   .where(Selection.run.in_([r.id for r in runs])).tuples())
    page = runs[:limit]
    return jsonify({"runs": [views.run_summary(r, winners.get(r.id)) for r in page],
                    "next_cursor": page_cursor(page[-1]) if len(runs) > limit else None})


# A page ends at (created_at, id): the cursor carries both, so it stays valid whatever
# happens to that run.
CURSOR = re.compile(r"^(?P<micros>[0-9]{1,19})\.(?P<run_id>run-[a-z0-9]{10})$")
EPOCH = dt.datetime(1970, 1, 1)
MAX_CURSOR_MICROS = (dt.datetime.max - EPOCH) // dt.timedelta(microseconds=1)


def page_cursor(run: Run) -> str:
    return f"{(run.created_at - EPOCH) // dt.timedelta(microseconds=1)}.{run.id}"


@bp.get("/runs/<run_id>")
def get_run_detail(run_id: str) -> Any:
    return jsonify(views.run_detail(get_run(run_id)))


@bp.get("/runs/<run_id>/status")
def get_run_status(run_id: str) -> Any:
    run = get_run(run_id)
    return jsonify(views.run_status(run, service().runtime.job_counts(run.id)))


@bp.get("/runs/<run_id>/comparison")
def get_run_comparison(run_id: str) -> Any:
    return jsonify(comparison.board(get_run(run_id)))


@bp.get("/runs/<run_id>/variations/<int:variation_id>/diff")
def get_variation_diff(run_id: str, variation_id: int) -> Any:
    run = get_run(run_id)
    variation = Variation.get_or_none((Variation.run == run.id)
                                      & (Variation.index == variation_id)) \
        if variation_id < run.variation_count else None
    if variation is None:
        raise ApiError(404, "not_found", f"run {run.id} has no variation {variation_id}")
    if variation.diff is None:
        raise ApiError(404, "not_found", f"variation {variation_id} of run {run.id} has "
                                         f"reported no diff (status: {variation.status})")
    return jsonify(views.diff_view(variation))


@bp.post("/runs/<run_id>/select")
def select_winner(run_id: str) -> Any:
    run = get_run(run_id)
    body = json_body(request, "SelectRequest")
    index = int(body["winning_variation_id"])   # 2.0 is an integer to JSON Schema
    variation = Variation.get_or_none((Variation.run == run.id) & (Variation.index == index))
    if variation is None:
        raise ApiError(422, "validation_error",
                       f"winning_variation_id: run {run.id} has no variation {index} "
                       f"(it has 0 to {run.variation_count - 1})", "winning_variation_id")
    now = utcnow()
    by_id, by_name = auth.actor()
    chosen = {Selection.variation: variation.index, Selection.selected_at: now,
              Selection.selected_by: by_id, Selection.selected_by_name: by_name}
    with db.atomic():
        (Selection.insert({Selection.run: run.id, **chosen})
         .on_conflict(conflict_target=[Selection.run], update=chosen)
         .execute())
    return jsonify({"status": "success", "job_name": variation.job_name, "run_id": run.id,
                    "winning_variation_id": variation.index,
                    "selected_at": views.iso(now),
                    "selected_by": views.principal_ref(by_id, by_name)})


@bp.post("/runs/<run_id>/cancel")
def cancel_run(run_id: str) -> Any:
    run = get_run(run_id)
    if run.status in RUN_ENDED:
        raise ApiError(409, "conflict", f"run {run.id} has already finished ({run.status})")
    service().orchestrator.cancel(run, by=auth.actor())
    return jsonify({"run_id": run.id, "status": "cancelling"}), 202


@bp.delete("/runs/<run_id>")
def delete_run(run_id: str) -> Any:
    """Delete the run and everything kept about it; a live run is cancelled first (its
    owner, wherever it is, stops its variations), and deleted once it has ended."""
    run = get_run(run_id)
    svc = service()
    if run.status not in RUN_ENDED:
        if not run.cancel_requested:
            svc.orchestrator.cancel(run, by=auth.actor())
        # Its agents get the grace period to stop; a dead owner's lease must expire first.
        deadline = time.monotonic() + svc.settings.cancel_grace_seconds + \
            2 * svc.settings.lease_seconds
        while Run.select(Run.status).where(Run.id == run.id).scalar() not in RUN_ENDED:
            if time.monotonic() > deadline:
                raise ApiError(409, "conflict", f"run {run.id} is being cancelled and has "
                                                f"not stopped yet; retry the delete",
                               headers={"Retry-After": "5"})
            gevent.sleep(0.1)
    deletion.delete_run(run.id, svc.runtime)
    return "", 204
