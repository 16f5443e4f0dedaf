"""How an engine's loop ended: what every engine returns to the agent."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# How the service's model gateway words a call it refused because the variation's budget
# is spent (aideator/gateway/relay.py): a limit reached, not a model failure.
GATEWAY_BUDGET = "aideator gateway: budget exhausted"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    code: str | None = None        # the protocol error code when not ok
    message: str = ""
    detail: dict[str, Any] | None = None

    @property
    def has_work(self) -> bool:
        """Whether the clone may hold changes worth a diff."""
        return self.ok or self.code == "limit_reached"


def model_failure(message: str, reason: str | None, status: int | None) -> Outcome:
    """The model API failed: ``model_error`` with the engine's classification, unless it was
    the gateway refusing the call for the budget (``limit_reached``)."""
    if GATEWAY_BUDGET in message:
        return Outcome(False, "limit_reached", message,
                       {"reason": "max_budget_usd", "status": status})
    return Outcome(False, "model_error", message, {"reason": reason, "status": status})
