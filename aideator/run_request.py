"""Turns a validated run request into one agent configuration per variation, and its
checks into the list every variation runs."""
from __future__ import annotations

from typing import Any, Mapping

from .schemas import ValidationFailed

DEFAULT_VARIATIONS = 3
DEFAULT_CHECK_TIMEOUT = 300


def checks(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's checks, defaults filled in; names must be unique (which no JSON Schema
    states for a property of array items)."""
    found: list[dict[str, Any]] = []
    for i, check in enumerate(body.get("checks") or []):
        if any(c["name"] == check["name"] for c in found):
            raise ValidationFailed(f"checks.{i}.name", f"checks.{i}.name: another check is "
                                                       f"already named {check['name']!r}")
        found.append({"name": check["name"], "command": check["command"],
                      "timeout_seconds": int(check.get("timeout_seconds",
                                                       DEFAULT_CHECK_TIMEOUT)),
                      **({"junit_report": check["junit_report"]}
                         if check.get("junit_report") else {})})
    return found


def variation_configs(body: Mapping[str, Any], default_model: str) -> list[dict[str, Any]]:
    """``agent_config`` over the defaults, then ``variation_configs[i]`` over that."""
    base = {"model": default_model, **body.get("agent_config", {})}
    overrides = body.get("variation_configs") or []
    count = int(body.get("variations", len(overrides) or DEFAULT_VARIATIONS))
    if len(overrides) > count:
        raise ValidationFailed("variation_configs",
                               f"variation_configs: has {len(overrides)} items but "
                               f"variations is {count}")
    return [{**base, **(overrides[i] if i < len(overrides) else {})} for i in range(count)]
