"""API tokens (principals): create, list, revoke. Admins only."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ..access import auth
from ..store.models import ApiToken
from . import views
from .errors import ApiError, json_body

bp = Blueprint("tokens", __name__)
bp.before_request(auth.require_admin)


def token_view(row: ApiToken) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "admin": row.admin, "limits": row.limits,
            "created_at": views.iso(row.created_at), "created_by": row.created_by,
            "revoked_at": views.iso(row.revoked_at)}


@bp.post("/tokens")
def create_token() -> Any:
    body = json_body(request, "CreateTokenRequest")
    row, token = auth.create_token(body["name"], admin=body.get("admin", False),
                                   limits=body.get("limits"), created_by=auth.actor()[0])
    # The only response that ever carries the token.
    response = jsonify({**token_view(row), "token": token})
    response.headers["Location"] = f"/api/v1/tokens/{row.id}"
    return response, 201


@bp.get("/tokens")
def list_tokens() -> Any:
    rows = ApiToken.select().order_by(ApiToken.created_at.desc(), ApiToken.id)
    return jsonify({"tokens": [token_view(r) for r in rows]})


@bp.delete("/tokens/<token_id>")
def revoke_token(token_id: str) -> Any:
    row = auth.revoke_token(token_id)
    if row is None:
        raise ApiError(404, "not_found", f"no token with id {token_id[:64]!r}")
    return jsonify(token_view(row))
