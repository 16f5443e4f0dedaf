"""Every error the API returns is JSON: ``{"error": code, "detail": text[, "field": path]}``."""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, Request, jsonify
from werkzeug.exceptions import HTTPException

from ..access import auth
from ..schemas import ValidationFailed, validate


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.field = status, error, detail, field
        self.headers = headers or {}


def _response(status: int, error: str, detail: str, field: str | None = None) -> Any:
    body = {"error": error, "detail": detail}
    if field:
        body["field"] = field
    return jsonify(body), status


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_body(request: Request, schema_name: str) -> Any:
    """The request's JSON body, checked against ``schema_name`` of the OpenAPI document."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       "the request body must be JSON (Content-Type: application/json)")
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the request body is not valid JSON: {exc}") \
            from None
    try:
        validate(body, schema_name)
    except ValidationFailed as exc:
        raise ApiError(422, "validation_error", exc.message, exc.field) from None
    return body


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Any:
        response, status = _response(exc.status, exc.error, exc.detail, exc.field)
        response.headers.update(exc.headers)
        return response, status

    @app.errorhandler(auth.Unauthorized)
    def unauthorized(exc: auth.Unauthorized) -> Any:
        response, status = _response(401, "unauthorized", str(exc))
        response.headers["WWW-Authenticate"] = 'Bearer realm="aideator"'
        return response, status

    @app.errorhandler(auth.Forbidden)
    def forbidden(exc: auth.Forbidden) -> Any:
        return _response(403, "forbidden", str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = (exc.name or "error").lower().replace(" ", "_")
        detail = exc.description or exc.name
        if exc.code == 413:
            detail = (f"the request body is larger than "
                      f"{app.config['MAX_CONTENT_LENGTH']} bytes")
        response, status = _response(exc.code or 500, code, detail)
        # Keep what the exception says in headers (e.g. a 405's Allow).
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status
