"""Each variation's metered model usage: written by the gateway on every call, read by the
run's detail and by the run owner's collector (which tells the stream when it changed).

Several replicas may serve one variation's calls at once, so every write adds to the
stored numbers in the database (``SET x = x + ?``) instead of writing back what it read.
"""
from __future__ import annotations

import time
from typing import Any, Mapping

from peewee import fn

from .models import VariationUsage, connection, utcnow

TOKEN_KINDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens",
               "cache_read_input_tokens")
EMPTY = {"calls": 0, **{kind: 0 for kind in TOKEN_KINDS}, "cost_usd": 0.0,
         "unpriced_calls": 0, "refused_calls": 0, "refused_at": None}


def _ensure(run_id: str, index: int) -> None:
    VariationUsage.insert(run=run_id, variation=index).on_conflict_ignore().execute()


def _where(run_id: str, index: int) -> Any:
    return (VariationUsage.run == run_id) & (VariationUsage.variation == index)


def add(run_id: str, index: int, tokens: Mapping[str, int], cost_usd: float | None) -> None:
    """One model call's usage; ``cost_usd`` None: the model has no price (see prices)."""
    with connection():
        _ensure(run_id, index)
        F = VariationUsage
        changes: dict[Any, Any] = {F.calls: F.calls + 1}
        for kind in TOKEN_KINDS:
            if tokens.get(kind):
                changes[getattr(F, kind)] = getattr(F, kind) + int(tokens[kind])
        if cost_usd is None:
            changes[F.unpriced_calls] = F.unpriced_calls + 1
        else:
            changes[F.cost_usd] = F.cost_usd + float(cost_usd)
        F.update(changes).where(_where(run_id, index)).execute()


def refuse(run_id: str, index: int) -> None:
    """The gateway refused a call of this variation: its budget is spent."""
    with connection():
        _ensure(run_id, index)
        F = VariationUsage
        F.update({F.refused_calls: F.refused_calls + 1,
                  F.refused_at: fn.COALESCE(F.refused_at, utcnow())}
                 ).where(_where(run_id, index)).execute()


def _view(row: VariationUsage | None) -> dict[str, Any]:
    if row is None:
        return dict(EMPTY)
    return {"calls": row.calls, **{kind: getattr(row, kind) for kind in TOKEN_KINDS},
            "cost_usd": round(row.cost_usd, 6), "unpriced_calls": row.unpriced_calls,
            "refused_calls": row.refused_calls,
            "refused_at": None if row.refused_at is None
            else row.refused_at.isoformat(timespec="milliseconds") + "Z"}


def of_run(run_id: str) -> dict[int, dict[str, Any]]:
    """Every variation's usage that has any (index -> usage)."""
    with connection():
        return {row.variation: _view(row)
                for row in VariationUsage.select().where(VariationUsage.run == run_id)}


def of_variation(run_id: str, index: int) -> dict[str, Any]:
    with connection():
        return _view(VariationUsage.get_or_none(_where(run_id, index)))


def cost(run_id: str, index: int) -> float:
    with connection():
        value = (VariationUsage.select(VariationUsage.cost_usd)
                 .where(_where(run_id, index)).scalar())
    return float(value or 0.0)


class Watch:
    """The collector's view of one variation's usage: what changed since it last told the
    stream, looked at no more often than every ``interval`` seconds."""

    def __init__(self, run_id: str, index: int, interval: float = 1.0) -> None:
        self.run_id, self.index, self.interval = run_id, index, interval
        self._told: dict[str, Any] | None = None
        self._next = 0.0

    def changed(self, *, now: bool = False) -> dict[str, Any] | None:
        """The usage, if it changed since the last call that returned it."""
        if not now and time.monotonic() < self._next:
            return None
        self._next = time.monotonic() + self.interval
        current = of_variation(self.run_id, self.index)
        if current == (self._told or EMPTY):
            return None
        self._told = current
        return current


def notice(usage: Mapping[str, Any]) -> str:
    """The usage in a sentence, for the stream's status notice."""
    tokens = sum(usage.get(kind, 0) for kind in TOKEN_KINDS)
    text = (f"Model usage: {usage['calls']} call(s), {tokens:,} tokens, "
            f"${usage['cost_usd']:.4f}")
    if usage.get("unpriced_calls"):
        text += f" ({usage['unpriced_calls']} call(s) of a model with no known price)"
    if usage.get("refused_calls"):
        text += "; the gateway refused a model call: the budget is spent"
    return text
