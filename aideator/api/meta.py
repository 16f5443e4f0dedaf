"""Health and the OpenAPI document."""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify

from ..models import db
from ..schemas import openapi_document
from ..version import __version__

bp = Blueprint("meta", __name__)
log = logging.getLogger(__name__)


@bp.get("/health")
def health() -> Any:
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
    body = {"status": status,
            "version": __version__,
            "kubernetes": bool(runtime.get("kubernetes", False)),
            "runtime": service.runtime.name, "database": database,
            "auth": service.settings.auth,
            "replica": service.replica,
            "runs_owned": len(service.orchestrator.owned)}
    if "sandbox" in runtime:    # the local runtime: how its agents are contained
        body["sandbox"] = runtime["sandbox"]
    return jsonify(body), 200 if status == "healthy" else 503


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document())
