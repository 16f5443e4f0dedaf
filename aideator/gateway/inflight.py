"""Model calls of each variation under way in this process, so that calls made at once
cannot overspend a budget.

The budget is checked against what has been recorded, and a call's cost is known only once
it has ended; ten calls sent together would all pass a check made before any of them ended.
So, for a variation with a budget, a call goes at once only while the budget has room for
every call in flight at the largest cost seen so far (none seen: one call at a time); else
it waits for one to end, then is checked again. Calls made at once then go over the
budget by at most one call's worth. A variation's calls all reach the process that serves
its gateway (the local runtime's bridge); on Kubernetes, where replicas share the calls,
this holds per replica.
"""
from __future__ import annotations

import threading   # gevent's, in the service (patched before any import)
from dataclasses import dataclass
from typing import Callable

# How long a waiting call sleeps before it looks again (a call that ended elsewhere).
RECHECK_SECONDS = 1.0
MAX_TRACKED = 10_000


@dataclass
class _Calls:
    running: int = 0
    largest: float = 0.0     # the costliest call of the variation seen so far


_calls: dict[tuple[str, int], _Calls] = {}
_changed = threading.Condition()


def enter(key: tuple[str, int], budget: float, spent: Callable[[], float]) -> bool:
    """Wait until a call of the variation ``key`` may go; whether it had to wait (then the
    caller checks the budget again)."""
    waited = False
    with _changed:
        calls = _calls.setdefault(key, _Calls())
        while calls.running and not (
                calls.largest and spent() + (calls.running + 1) * calls.largest < budget):
            waited = True
            _changed.wait(RECHECK_SECONDS)
        calls.running += 1
    return waited


def leave(key: tuple[str, int], cost: float | None) -> None:
    """A call of ``key`` ended (``cost``: what it cost, when known)."""
    with _changed:
        calls = _calls.get(key)
        if calls is not None:
            calls.running = max(0, calls.running - 1)
            calls.largest = max(calls.largest, cost or 0.0)
            if len(_calls) > MAX_TRACKED:   # forget variations with nothing under way
                for idle in [k for k, c in _calls.items() if not c.running]:
                    del _calls[idle]
        _changed.notify_all()
