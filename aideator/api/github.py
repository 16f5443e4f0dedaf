"""The caller's GitHub connection: store a token (checked with GitHub first), say whether
one is stored, forget it. The token is never returned, in any response."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from ..access import auth
from ..github import tokens
from ..github.rest import Client, GitHubError
from .errors import ApiError, json_body

bp = Blueprint("github", __name__)


def settings() -> Any:
    return current_app.extensions["aideator"].settings


def connection_view(principal_id: str | None) -> dict[str, Any]:
    found = tokens.describe(principal_id)
    if found is None:
        return {"connected": False, "login": None, "scopes": None, "connected_at": None}
    return {"connected": True, "login": found.login, "scopes": found.scopes,
            "connected_at": found.connected_at}


def github_error(exc: GitHubError) -> ApiError:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return ApiError(exc.status, exc.code, exc.detail, headers=headers)


@bp.get("/github")
def get_connection() -> Any:
    return jsonify(connection_view(auth.actor()[0]))


@bp.put("/github")
def connect() -> Any:
    body = json_body(request, "GitHubConnectRequest")
    token = body["token"]
    try:
        login, scopes = Client(settings().github_api_url, token).user()
    except GitHubError as exc:
        if exc.code == "github_token_rejected":
            raise ApiError(422, "github_token_rejected",
                           "GitHub does not accept this token (GET /user answered 401)",
                           "token") from None
        raise github_error(exc) from None
    tokens.store(auth.actor()[0], token, login, scopes, settings())
    return jsonify(connection_view(auth.actor()[0]))


@bp.delete("/github")
def disconnect() -> Any:
    tokens.forget(auth.actor()[0])
    return "", 204
