"""How an engine's loop ended: what every engine returns to the agent."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
