"""Who is calling: principals and their bearer tokens, and what a principal may see.

A principal is a named token (``ApiToken``): the token is random, shown once, and only its
SHA-256 is kept, so the database never holds a usable secret. An admin token may also come
from the environment (``AIDEATOR_ADMIN_TOKEN``), so a fresh deployment is usable at once.
A run belongs to the principal that created it; other non-admins cannot tell it exists.

With ``AIDEATOR_AUTH=off`` nobody is identified: every caller may do everything (the
loopback-only embedded default). The check made once per request, which reads the
request's credentials, is ``api.access``.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Mapping

from flask import g

from ..config import Settings
from ..naming import random_id
from ..store.models import ApiToken, Run, utcnow

TOKEN_PREFIX = "aid_"
TOKEN_ID = re.compile(r"^tok-[a-z0-9]{10}$")
ENV_ADMIN_ID = "env-admin"


class Unauthorized(Exception):
    """No valid credentials: a 401 with ``WWW-Authenticate``."""


class Forbidden(Exception):
    """Valid credentials without the right: a 403."""


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    admin: bool
    # Overrides of the configured limits (see ``limits``).
    limits: Mapping[str, Any] = field(default_factory=dict)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(name: str, *, admin: bool = False, limits: Mapping[str, Any] | None = None,
                 created_by: str | None = None) -> tuple[ApiToken, str]:
    """A new principal and its token (the only time the token exists in plain text)."""
    token = new_token()
    row = ApiToken.create(id=random_id("tok-"),
                          name=name, admin=admin, token_hash=hash_token(token),
                          limits=dict(limits or {}), created_by=created_by)
    return row, token


def revoke_token(token_id: str) -> ApiToken | None:
    row = ApiToken.get_or_none(ApiToken.id == token_id) if TOKEN_ID.match(token_id) else None
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        ApiToken.update(revoked_at=row.revoked_at).where(ApiToken.id == row.id).execute()
    return row


def _principal(row: ApiToken) -> Principal:
    return Principal(id=row.id, name=row.name, admin=row.admin, limits=row.limits)


ENV_ADMIN = Principal(id=ENV_ADMIN_ID, name="admin (AIDEATOR_ADMIN_TOKEN)", admin=True)


def principal_for_token(token: str, settings: Settings) -> Principal | None:
    """The live principal a bearer token names, or None."""
    if settings.admin_token and hmac.compare_digest(hash_token(token),
                                                    hash_token(settings.admin_token)):
        return ENV_ADMIN
    row = ApiToken.get_or_none((ApiToken.token_hash == hash_token(token))
                               & ApiToken.revoked_at.is_null())
    return None if row is None else _principal(row)


def principal_by_id(principal_id: str, settings: Settings) -> Principal | None:
    """A principal that still exists (not revoked), by id: stream links name theirs."""
    if principal_id == ENV_ADMIN_ID:
        return ENV_ADMIN if settings.admin_token else None
    if not TOKEN_ID.match(principal_id):
        return None
    row = ApiToken.get_or_none((ApiToken.id == principal_id) & ApiToken.revoked_at.is_null())
    return None if row is None else _principal(row)


def current() -> Principal | None:
    """The caller of this request; None with auth off (anyone may do anything)."""
    return g.get("principal")


def actor() -> tuple[str | None, str | None]:
    """(id, name) to record as the one who did something."""
    principal = current()
    return (None, None) if principal is None else (principal.id, principal.name)


def can_see(run: Run) -> bool:
    principal = current()
    return principal is None or principal.admin or run.created_by == principal.id


def require_admin() -> None:
    principal = current()
    if principal is not None and not principal.admin:
        raise Forbidden("this endpoint needs an admin token")
