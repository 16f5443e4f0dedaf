"""Each principal's GitHub token: stored sealed (``sealing``), bound to its principal, and
read back only by the service's own GitHub calls and the gateway's git pass-through.

With auth off every caller is the same nobody, keyed ``-``; a run's owner is its
``created_by`` (None with auth off).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

from ..access import sealing
from ..config import Settings
from ..store.models import GitHubToken, connection, utcnow

NOBODY = "-"


def git_authorization(token: str) -> str:
    """The Authorization header value GitHub expects with a token on git over HTTPS."""
    return "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


def key(principal_id: str | None) -> str:
    return principal_id or NOBODY


@dataclass(frozen=True)
class Connected:
    """What may be told about a stored token: never the token."""
    login: str | None
    scopes: list[str] | None
    connected_at: str


def store(principal_id: str | None, token: str, login: str | None,
          scopes: list[str] | None, settings: Settings) -> None:
    owner = key(principal_id)
    fields = {GitHubToken.sealed: sealing.seal(token, owner, settings),
              GitHubToken.login: login,
              GitHubToken.scopes: None if scopes is None else ",".join(scopes),
              GitHubToken.created_at: utcnow()}
    with connection():
        (GitHubToken.insert({GitHubToken.principal: owner, **fields})
         .on_conflict(conflict_target=[GitHubToken.principal], update=fields).execute())


def describe(principal_id: str | None) -> Connected | None:
    with connection():
        row = GitHubToken.get_or_none(GitHubToken.principal == key(principal_id))
    if row is None:
        return None
    return Connected(row.login, None if row.scopes is None
                     else [s for s in row.scopes.split(",") if s],
                     row.created_at.isoformat(timespec="milliseconds") + "Z")


def token_of(principal_id: str | None, settings: Settings) -> str | None:
    """The principal's token in plain text (for a call to GitHub), or None."""
    owner = key(principal_id)
    with connection():
        row = GitHubToken.get_or_none(GitHubToken.principal == owner)
    return None if row is None else sealing.unseal(row.sealed, owner, settings)


def forget(principal_id: str | None) -> bool:
    with connection():
        return bool(GitHubToken.delete()
                    .where(GitHubToken.principal == key(principal_id)).execute())
