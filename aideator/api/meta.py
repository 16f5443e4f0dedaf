"""Health (what a probe needs, for anyone), this replica's details (for admins) and the
OpenAPI document.

``/health`` answers load balancers and probes, which need no token: so it says whether
this replica can serve and nothing an outsider could use (which replica, whether access
control is on, what it is doing). ``/replica`` tells an admin the rest."""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify

from ..access import auth
from ..schemas import openapi_document
from ..store.models import db
from ..version import __version__

bp = Blueprint("meta", __name__)
log = logging.getLogger(__name__)


def _checks() -> tuple[str, dict[str, Any], bool]:
    """(status, the runtime's own health, whether the database answers)."""
    service = current_app.extensions["aideator"]
    try:
        db.execute_sql("SELECT 1")
        database = True
    except Exception:  # noqa: BLE001 - health reports it, it does not fail on it
        log.exception("database health check failed")
        database = False
    runtime = service.runtime.health()
    healthy = database and runtime.get("ok", False)
    # Draining (shutting down): readiness fails first, so no new stream lands here.
    status = "draining" if service.draining else "healthy" if healthy else "unhealthy"
    return status, runtime, database


@bp.get("/health")
def health() -> Any:
    status, runtime, database = _checks()
    body = {"status": status,
            "version": __version__,
            "kubernetes": bool(runtime.get("kubernetes", False)),
            "runtime": current_app.extensions["aideator"].runtime.name,
            "database": database}
    if "sandbox" in runtime:    # the local runtime: why it cannot run agents, if it cannot
        body["sandbox"] = runtime["sandbox"]
        # Which caps each variation has on this machine (the kernel decides what can be).
        body["sandbox_limits"] = runtime["limits"]
    return jsonify(body), 200 if status == "healthy" else 503


@bp.get("/replica")
def replica() -> Any:
    """The replica that answers: its name, its runs, its runtime's details (admins)."""
    auth.require_admin()
    service = current_app.extensions["aideator"]
    status, runtime, database = _checks()
    return jsonify({"status": status, "version": __version__,
                    "replica": service.replica, "auth": service.settings.auth,
                    "database": database,
                    "runs_owned": len(service.orchestrator.owned),
                    "runtime": {"name": service.runtime.name,
                                **runtime}})


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document())
