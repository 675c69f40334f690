"""Prices of metered items per plan (``MINIBASE_PRICES``), and what a month's usage costs.

``MINIBASE_PRICES`` is JSON: plan → item → price per unit, e.g.
``{"pro": {"computeMs": 0.000002, "run": 0.0005, "storageByteDay": 1e-11, "seat": 10}}``.
Plans and items left out keep :data:`DEFAULT_PRICES`. Units: a millisecond of node
compute time, a run, a byte stored for a day, a member for the month.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from minibase.domain.plans import Plan

ITEMS = ("computeMs", "run", "storageByteDay", "seat")


@dataclass(frozen=True, slots=True)
class Prices:
    compute_ms: float
    run: float
    storage_byte_day: float
    seat: float

    def of(self, item: str) -> float:
        return {
            "computeMs": self.compute_ms,
            "run": self.run,
            "storageByteDay": self.storage_byte_day,
            "seat": self.seat,
        }[item]


DEFAULT_PRICES: dict[Plan, Prices] = {
    Plan.FREE: Prices(0.0, 0.0, 0.0, 0.0),
    Plan.PRO: Prices(0.000002, 0.0005, 1e-11, 10.0),
    Plan.ENTERPRISE: Prices(0.0000015, 0.0003, 8e-12, 20.0),
}


def parse_prices(text: str) -> dict[Plan, Prices]:
    """The price list ``text`` (``MINIBASE_PRICES``) asks for; ``ValueError`` when malformed."""
    prices = dict(DEFAULT_PRICES)
    if not text.strip():
        return prices
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"MINIBASE_PRICES is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("MINIBASE_PRICES must be a JSON object: plan -> item -> price")
    for plan_name, items in data.items():
        try:
            plan = Plan(plan_name)
        except ValueError:
            raise ValueError(f"MINIBASE_PRICES: unknown plan {plan_name!r}") from None
        if not isinstance(items, dict):
            raise ValueError(f"MINIBASE_PRICES[{plan_name!r}] must be an object")
        base = {item: prices[plan].of(item) for item in ITEMS}
        for item, price in items.items():
            if item not in ITEMS:
                raise ValueError(f"MINIBASE_PRICES: unknown item {item!r}; one of {ITEMS}")
            if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
                raise ValueError(f"MINIBASE_PRICES[{plan_name!r}][{item!r}] must be >= 0")
            base[item] = float(price)
        prices[plan] = Prices(base["computeMs"], base["run"], base["storageByteDay"], base["seat"])
    return prices
