"""Kubernetes ``Status`` error objects, shaped like the real API server's.

Clients (the official ``kubernetes`` client and our own error mapping) read ``code``,
``reason`` and ``details``, so every error the fake returns goes through here.
"""
from __future__ import annotations

from typing import Any

# resource -> (group, kind) as the API server names them in messages ("jobs.batch").
KINDS = {"jobs": ("batch", "Job"), "pods": ("", "Pod"), "secrets": ("", "Secret"),
         "events": ("", "Event")}


class ApiError(Exception):
    """An error answer: raised anywhere in the fake, rendered by the HTTP layer."""

    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                "status": "Failure", "message": self.message,
                                "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(resource: str) -> str:
    group = KINDS.get(resource, ("", ""))[0]
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str) -> ApiError:
    group = KINDS.get(resource, ("", ""))[0]
    return ApiError(404, "NotFound", f'{qualified(resource)} "{name}" not found',
                    {"name": name, "group": group, "kind": resource})


def already_exists(resource: str, name: str) -> ApiError:
    group = KINDS.get(resource, ("", ""))[0]
    return ApiError(409, "AlreadyExists", f'{qualified(resource)} "{name}" already exists',
                    {"name": name, "group": group, "kind": resource})


def invalid(resource: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 with one cause per (field, message), like the API server's field validation."""
    group, kind = KINDS.get(resource, ("", resource))
    label = f"{kind}.{group}" if group else kind
    text = ", ".join(f"{field}: {message}" for field, message in causes)
    return ApiError(422, "Invalid", f'{label} "{name}" is invalid: {text}',
                    {"name": name, "group": group, "kind": kind,
                     "causes": [{"reason": "FieldValueInvalid", "message": message,
                                 "field": field} for field, message in causes]})


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def expired(requested: int, oldest: int) -> ApiError:
    # The wording clients grep for ("too old resource version") is the API server's.
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", f"the server does not allow this method on "
                    f"the requested resource ({method})")
