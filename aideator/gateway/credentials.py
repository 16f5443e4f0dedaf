"""Gateway credentials: each variation's agent gets one of its own instead of a model key.

A credential is signed (itsdangerous, with the key every replica shares, as stream links
are) and names one run and variation and when it expires. It is worth nothing once its
variation has ended, so a leaked one opens nothing later; and it opens only the gateway's
routes, never the API (it is not a principal's token). The agent sends it as its
``ANTHROPIC_API_KEY`` (``x-api-key``) and, for git, as ``Authorization: Bearer``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

from itsdangerous import BadSignature, URLSafeSerializer

from ..access.streamlinks import signing_key
from ..config import Settings
from ..store.models import VARIATION_ENDED, Run, Variation, connection

_SALT = "aideator.gateway"
# Marks a credential as ours, so logs can take it out of any line (aideator.ops.logs).
PREFIX = "aidg_"
# What an agent's credential looks like (letters of URL-safe base64 and dots), bounded.
MAX_LENGTH = 512


class Refused(Exception):
    """The credential does not open the gateway (a 401 for its caller)."""


@dataclass(frozen=True)
class Grant:
    """What a valid credential lets its holder do: call models for this variation and
    clone its run's repository."""
    run_id: str
    variation: int
    github_url: str
    max_budget_usd: float | None
    # Who started the run (None with auth off): the gateway's git uses their GitHub token.
    principal: str | None = None


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(signing_key(settings), salt=_SALT)


def issue(run_id: str, variation_index: int, settings: Settings) -> str:
    """A credential for one variation, valid until it ends (or the configured maximum)."""
    expires = int(time.time()) + settings.gateway_token_seconds
    return PREFIX + _serializer(settings).dumps([run_id, variation_index, expires])


def _budget(config: Mapping[str, Any]) -> float | None:
    value = config.get("max_budget_usd")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def verify(token: str, settings: Settings) -> Grant:
    """The grant of a credential valid now; raises :class:`Refused` with why not."""
    if not token or len(token) > MAX_LENGTH:
        raise Refused("aideator gateway: a variation's credential is required")
    if not token.startswith(PREFIX):
        raise Refused("aideator gateway: the credential is invalid")
    try:
        run_id, index, expires = _serializer(settings).loads(token[len(PREFIX):])
    except (BadSignature, ValueError, TypeError):
        raise Refused("aideator gateway: the credential is invalid") from None
    if not isinstance(expires, int) or expires < time.time():
        raise Refused("aideator gateway: the credential has expired")
    with connection():
        row = (Variation.select(Variation.status, Variation.config, Run.github_url,
                                Run.created_by)
               .join(Run).where((Variation.run == run_id) & (Variation.index == index))
               .objects().first())
    if row is None:
        raise Refused("aideator gateway: the credential's variation does not exist")
    if row.status in VARIATION_ENDED:
        raise Refused("aideator gateway: the credential's variation has ended")
    return Grant(run_id, index, row.github_url, _budget(row.config or {}), row.created_by)
