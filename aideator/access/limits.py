"""Spending limits per principal: unfinished runs at once, runs per hour, and a ceiling on
each variation's budget (which the agent enforces itself, so every agent has one).

Defaults come from configuration; a token may override each (0 means no limit). The run
counts are checked in the transaction that stores the new run, serialised per principal,
so two replicas cannot both admit the run that goes over.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..config import Settings
from ..schemas import ValidationFailed
from ..store.models import RUN_ENDED, Run, db, is_postgres, utcnow

HOUR = dt.timedelta(hours=1)
# Seconds a client is told to wait when all its concurrent runs are still going.
CONCURRENT_RETRY_AFTER = 30
_LOCK_CLASS = 0x4C494D   # "LIM": advisory locks of this module (PostgreSQL)


class LimitExceeded(Exception):
    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.detail, self.retry_after = detail, retry_after


@dataclass(frozen=True)
class Limits:
    concurrent_runs: int
    runs_per_hour: int
    max_budget_usd: float

    @classmethod
    def of(cls, settings: Settings, overrides: Mapping[str, Any]) -> "Limits":
        return cls(concurrent_runs=overrides.get("concurrent_runs",
                                                 settings.limit_concurrent_runs),
                   runs_per_hour=overrides.get("runs_per_hour", settings.limit_runs_per_hour),
                   max_budget_usd=overrides.get("max_budget_usd",
                                                settings.limit_max_budget_usd))


def cap_budgets(body: Mapping[str, Any], configs: list[dict[str, Any]],
                limits: Limits) -> list[dict[str, Any]]:
    """Refuse a budget above the ceiling (naming the field that asked for it); give the
    ceiling to every variation that asked for none."""
    ceiling = limits.max_budget_usd
    if not ceiling:
        return configs
    asked = [("agent_config", body.get("agent_config") or {})]
    asked += [(f"variation_configs.{i}", c)
              for i, c in enumerate(body.get("variation_configs") or [])]
    for where, config in asked:
        if config.get("max_budget_usd", 0) > ceiling:
            field = f"{where}.max_budget_usd"
            raise ValidationFailed(field, f"{field}: {config['max_budget_usd']} is above your "
                                          f"limit of {ceiling} USD per variation")
    return [{**c, "max_budget_usd": c.get("max_budget_usd", ceiling)} for c in configs]


def admit(principal_id: str | None, limits: Limits) -> None:
    """Raise :class:`LimitExceeded` if one more run would go over a limit. Call inside the
    transaction that stores the run."""
    mine = Run.created_by.is_null() if principal_id is None else Run.created_by == principal_id
    if is_postgres():
        # Held to the end of the transaction: the next admission counts this run.
        db.execute_sql("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                       (_LOCK_CLASS, principal_id or ""))
    if limits.concurrent_runs:
        running = Run.select().where(mine & Run.status.not_in(RUN_ENDED)).count()
        if running >= limits.concurrent_runs:
            raise LimitExceeded(f"you have {running} unfinished run(s), your limit; start "
                                f"another when one ends", CONCURRENT_RETRY_AFTER)
    if limits.runs_per_hour:
        since = utcnow() - HOUR
        recent = (Run.select(Run.created_at).where(mine & (Run.created_at > since))
                  .order_by(Run.created_at))
        count = recent.count()
        if count >= limits.runs_per_hour:
            oldest = recent.first().created_at
            wait = math.ceil((oldest + HOUR - utcnow()).total_seconds())
            raise LimitExceeded(f"you have started {count} run(s) in the last hour, your "
                                f"limit", max(1, wait))
