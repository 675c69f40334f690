"""Plans and their default limits; an organization's ``settings`` override them.

A limit of ``None`` is unlimited. ``allowedNodeTypes`` ``None`` allows every type.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MB = 1000 * 1000
GB = 1000 * MB


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"
    ENTERPRISE = "enterprise"


SETTING_KEYS = (
    "maxNodes",
    "maxFlows",
    "allowedNodeTypes",
    "storageQuota",
    "commentsBy",
    "retention",
)


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits in force for one organization."""

    max_flows: int | None
    max_nodes: int | None
    storage_quota: int | None
    allowed_node_types: tuple[str, ...] | None


PLAN_DEFAULTS: dict[Plan, Limits] = {
    Plan.FREE: Limits(
        max_flows=50, max_nodes=2_000, storage_quota=100 * MB, allowed_node_types=None
    ),
    Plan.PRO: Limits(
        max_flows=1_000, max_nodes=50_000, storage_quota=10 * GB, allowed_node_types=None
    ),
    Plan.ENTERPRISE: Limits(
        max_flows=None, max_nodes=None, storage_quota=None, allowed_node_types=None
    ),
}


def effective_limits(plan: str, settings: dict[str, Any]) -> Limits:
    """The plan's defaults with every non-null org setting taking precedence."""
    base = PLAN_DEFAULTS[Plan(plan)]
    types = settings.get("allowedNodeTypes")
    return Limits(
        max_flows=_pick(settings.get("maxFlows"), base.max_flows),
        max_nodes=_pick(settings.get("maxNodes"), base.max_nodes),
        storage_quota=_pick(settings.get("storageQuota"), base.storage_quota),
        allowed_node_types=tuple(types) if types is not None else base.allowed_node_types,
    )


def _pick(override: Any, default: int | None) -> int | None:
    return int(override) if override is not None else default
