"""Signed stream links: a browser's ``EventSource`` cannot send an Authorization header, so
a run's ``stream_url`` carries a short-lived token that lets its holder read that one
run's stream and nothing else.

The token is signed (itsdangerous, which Flask already uses) with a key every replica
shares: ``AIDEATOR_SECRET_KEY``, or else one generated once and kept in the database. It
names the principal it was issued to, so revoking that principal's token ends its links.
"""
from __future__ import annotations

import secrets
import time
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer

from ..config import Settings
from ..store.models import ServiceSecret, connection
from .auth import Principal, Unauthorized, principal_by_id

_SALT = "aideator.stream-link"
_KEY_NAME = "stream-link-key"


@lru_cache(maxsize=4)
def _stored_key(database: str) -> str:
    """The database's key, made by whichever replica asked first (the others read it)."""
    with connection():
        ServiceSecret.insert(name=_KEY_NAME, value=secrets.token_urlsafe(48)) \
            .on_conflict_ignore().execute()
        return ServiceSecret.get_by_id(_KEY_NAME).value


def signing_key(settings: Settings) -> str:
    """The key every replica signs with (stream links, gateway credentials: each its salt)."""
    return settings.secret_key or _stored_key(settings.database_url or settings.data_dir)


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(signing_key(settings), salt=_SALT)


def issue(run_id: str, principal: Principal, settings: Settings) -> tuple[str, float]:
    """A token to read ``run_id``'s stream, and when it expires (Unix time)."""
    expires = int(time.time()) + settings.stream_token_seconds
    return _serializer(settings).dumps([run_id, principal.id, expires]), expires


def reader(token: str, run_id: str, settings: Settings) -> Principal:
    """The principal a stream token was issued to, if it is valid for ``run_id`` now."""
    try:
        signed_run, principal_id, expires = _serializer(settings).loads(token[:1024])
    except (BadSignature, ValueError, TypeError):
        raise Unauthorized("the stream token is invalid") from None
    if signed_run != run_id:
        raise Unauthorized("the stream token is for another run")
    if not isinstance(expires, int) or expires < time.time():
        raise Unauthorized("the stream token has expired: ask for a new one "
                           "(POST /api/v1/runs/{run_id}/stream-token)")
    principal = principal_by_id(str(principal_id), settings)
    if principal is None:
        raise Unauthorized("the stream token's principal has been revoked")
    return principal
