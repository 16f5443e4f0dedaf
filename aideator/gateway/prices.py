"""What a model call cost: the token counts the gateway metered times the model's prices.

Prices come from ``prices.yaml`` beside this module (per model family, USD per million
tokens), overridden or extended by the file named in ``AIDEATOR_PRICES_FILE``. A model
found in neither is *unpriced*: its calls are metered in tokens and counted as unpriced,
and add nothing to the variation's cost, so they do not count against its budget (a
budget is in dollars; refusing every call of a model released after this table would stop
every run that asked for it). The web app and the detail show unpriced calls as such.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any, Mapping

import yaml

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "prices.yaml")
# Which rate each metered kind of token is charged at.
RATE_OF = {"input_tokens": "input", "output_tokens": "output",
           "cache_creation_input_tokens": "cache_write",
           "cache_read_input_tokens": "cache_read"}


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""
    input: float
    output: float
    cache_write: float
    cache_read: float

    def cost(self, tokens: Mapping[str, int]) -> float:
        return sum(tokens.get(kind, 0) * getattr(self, rate)
                   for kind, rate in RATE_OF.items()) / 1_000_000


def _entry(family: str, value: Any, source: str) -> Price:
    if not isinstance(value, Mapping):
        raise ValueError(f"{source}: {family}: expected a mapping of rates")
    rates = {}
    for rate in ("input", "output", "cache_write", "cache_read"):
        amount = value.get(rate)
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
            raise ValueError(f"{source}: {family}.{rate}: expected a non-negative number")
        rates[rate] = float(amount)
    return Price(**rates)


def _read(path: str) -> dict[str, Price]:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping of model family -> rates")
    return {str(family): _entry(str(family), value, path) for family, value in data.items()}


@functools.lru_cache(maxsize=4)
def table(override_path: str = "") -> dict[str, Price]:
    """The built-in prices, then the override file's (read once per process)."""
    prices = _read(TABLE)
    if override_path:
        prices.update(_read(override_path))
    return prices


def price(model: str | None, override_path: str = "") -> Price | None:
    """The price of ``model``: its longest matching family's, or None (unpriced)."""
    if not model:
        return None
    prices = table(override_path)
    families = [f for f in prices if model == f or model.startswith(f)]
    return prices[max(families, key=len)] if families else None
