"""The access check, made once per request before any view of the API runs.

It lives with the API because it knows the API's endpoints (which are public, which one
takes a stream link) and reads the request; ``auth`` only knows principals and their
tokens, and ``streamlinks`` builds on it, so the imports run one way:
``api.access`` -> ``streamlinks`` -> ``auth``.
"""
from __future__ import annotations

import re

from flask import Flask, g, request

from ..access import streamlinks
from ..access.auth import Principal, Unauthorized, principal_for_token
from ..config import Settings

# Endpoints anyone may call, with auth required too.
PUBLIC_ENDPOINTS = frozenset({"meta.health", "meta.openapi"})
# The one endpoint a browser's EventSource calls, with a signed link instead of a header.
STREAM_ENDPOINT = "streams.stream"
# Printable ASCII without spaces, bounded: anything else is not a token of ours.
_TOKEN_SHAPE = re.compile(r"^[\x21-\x7e]{1,256}$")


def bearer(settings: Settings) -> Principal:
    """The principal of the request's ``Authorization: Bearer`` token, or Unauthorized."""
    header = request.headers.get("Authorization")
    if header is None:
        raise Unauthorized("this endpoint needs a token: Authorization: Bearer <token>")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _TOKEN_SHAPE.match(token):
        raise Unauthorized("malformed Authorization header: expected Bearer <token>")
    principal = principal_for_token(token, settings)
    if principal is None:
        raise Unauthorized("the token is unknown or revoked")
    return principal


def init_app(app: Flask, settings: Settings) -> None:
    """Authenticate every /api/v1 request once, before its view runs."""
    if settings.auth == "off":
        return

    @app.before_request
    def authenticate() -> None:
        if (not request.path.startswith("/api/") or request.endpoint is None
                or request.method == "OPTIONS" or request.endpoint in PUBLIC_ENDPOINTS):
            return   # pages, unknown paths (their 404/405), CORS preflights (no token)
        if request.endpoint == STREAM_ENDPOINT and "token" in request.args:
            g.principal = streamlinks.reader(request.args["token"],
                                             (request.view_args or {}).get("run_id", ""),
                                             settings)
        else:
            g.principal = bearer(settings)
