"""Turns a validated run request into one agent configuration per variation."""
from __future__ import annotations

from typing import Any, Mapping

from .schemas import ValidationFailed

DEFAULT_VARIATIONS = 3


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
