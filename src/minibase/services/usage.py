"""Usage counters and quota enforcement.

The counters on the organization row (``billing.usageMetrics``) change in the same
transaction as the write they account for, after the org's row lock (PostgreSQL) or the
single writer (SQLite) has serialized writers, so concurrent writers cannot overshoot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam

from minibase.domain.flow_graph import check_allowed_types
from minibase.domain.plans import Limits, effective_limits
from minibase.domain.principal import Principal
from minibase.errors import NotFound, QuotaExceeded
from minibase.services.run_usage import run_usage
from minibase.store.tables import organizations
from minibase.store.unit_of_work import (
    Store,
    TenantUnitOfWork,
    prepared,
    scoped_select,
    scoped_update,
)

_CHARGE = prepared(
    scoped_update(organizations)
    .values(
        flows_created=organizations.c.flows_created + bindparam("add_flows"),
        nodes_used=organizations.c.nodes_used + bindparam("add_nodes"),
        storage_used=organizations.c.storage_used + bindparam("add_storage"),
    )
    .returning(*organizations.c)
)

_ORG = prepared(scoped_select(organizations))

WARNING_LEVEL = 0.80
CRITICAL_LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class Usage:
    flows: int
    nodes: int
    storage: int


def usage_of(org: Any) -> Usage:
    return Usage(flows=org.flows_created, nodes=org.nodes_used, storage=org.storage_used)


def limits_of(org: Any) -> Limits:
    return effective_limits(org.plan, org.settings or {})


def _quotas(usage: Usage, limits: Limits) -> list[tuple[str, str, int, int | None]]:
    return [
        ("maxFlows", "flows", usage.flows, limits.max_flows),
        ("maxNodes", "nodes", usage.nodes, limits.max_nodes),
        ("storageQuota", "storage", usage.storage, limits.storage_quota),
    ]


def warnings(usage: Usage, limits: Limits) -> list[dict[str, Any]]:
    """Every quota at 80 % (``warning``) or 95 % (``critical``) of its limit or more."""
    out = []
    for quota, _, used, limit in _quotas(usage, limits):
        if limit is None:
            continue
        ratio = used / limit if limit else (1.0 if used else 0.0)
        if limit == 0 or ratio >= WARNING_LEVEL:
            level = "critical" if ratio >= CRITICAL_LEVEL else "warning"
            out.append({"quota": quota, "level": level, "used": used, "limit": limit})
    return out


def warning_header(usage: Usage, limits: Limits) -> str | None:
    """``X-Quota-Warning`` value (``quota=used/limit``, comma-separated), if any."""
    parts = [f"{w['quota']}={w['used']}/{w['limit']}" for w in warnings(usage, limits)]
    return ", ".join(parts) or None


async def read_usage(store: Store, org_id: str, principal: Principal) -> dict[str, Any]:
    """The org's usage against its plan's quotas, with warnings."""
    async with store.tenant(org_id, principal) as uow:
        org = (await uow.execute(_ORG)).first()
        if org is None:
            raise NotFound("No such organization.")
        runs = await run_usage(uow, org.plan)
    return {**usage_json(usage_of(org), limits_of(org)), "runs": runs}


def usage_json(usage: Usage, limits: Limits) -> dict[str, Any]:
    body: dict[str, Any] = {
        key: {"used": used, "limit": limit} for _, key, used, limit in _quotas(usage, limits)
    }
    body["warnings"] = warnings(usage, limits)
    return body


async def charge(
    uow: TenantUnitOfWork,
    *,
    flows: int = 0,
    nodes: int = 0,
    storage: int = 0,
    node_types: Sequence[dict[str, Any]] = (),
) -> tuple[Usage, Any]:
    """Add the deltas to the org's counters, refusing any increase that passes a limit.

    ``node_types``: nodes being added (or re-typed), checked against ``allowedNodeTypes``.
    Must run inside a write unit of work. Decreases always pass (a flow over a lowered
    limit can still shrink). Returns the usage after the change and the org row.
    """
    # One statement: apply the deltas and read the row back; when a limit is passed the
    # exception rolls the whole transaction back, this update included.
    org = (
        await uow.execute(_CHARGE, {"add_flows": flows, "add_nodes": nodes, "add_storage": storage})
    ).first()
    if org is None:
        raise NotFound("No such organization.")
    after = usage_of(org)
    before = Usage(after.flows - flows, after.nodes - nodes, after.storage - storage)
    admit(before, limits_of(org), flows=flows, nodes=nodes, storage=storage, node_types=node_types)
    return after, org


_ORG_FIELDS = ("plan", "settings", "flows_created", "nodes_used", "storage_used")


def org_columns() -> list[Any]:
    """The org row's counters and limits as ``org_*`` columns, for a prepared statement
    that reads them along with other rows (joined on the org)."""
    return [organizations.c[name].label(f"org_{name}") for name in _ORG_FIELDS]


def org_of(row: Any) -> Any:
    """The org (counters and limits) read by :func:`org_columns`."""
    return SimpleNamespace(**{name: getattr(row, f"org_{name}") for name in _ORG_FIELDS})


async def add_to_counters(uow: TenantUnitOfWork, *, nodes: int = 0, storage: int = 0) -> None:
    """Add deltas already admitted by :func:`admit` to the org's counters."""
    await uow.execute(_CHARGE, {"add_flows": 0, "add_nodes": nodes, "add_storage": storage})


def admit(
    usage: Usage,
    limits: Limits,
    *,
    flows: int = 0,
    nodes: int = 0,
    storage: int = 0,
    node_types: Sequence[dict[str, Any]] = (),
) -> Usage:
    """The usage after adding the deltas to ``usage``, or ``QuotaExceeded`` when an
    increase passes a limit (decreases always pass). ``node_types``: nodes being added or
    re-typed, checked against ``allowedNodeTypes``."""
    if node_types and limits.allowed_node_types is not None:
        check_allowed_types(node_types, list(limits.allowed_node_types))
    for quota, delta, used, limit in (
        ("maxFlows", flows, usage.flows, limits.max_flows),
        ("maxNodes", nodes, usage.nodes, limits.max_nodes),
        ("storageQuota", storage, usage.storage, limits.storage_quota),
    ):
        if delta > 0 and limit is not None and used + delta > limit:
            raise QuotaExceeded(quota, limit=limit, used=used, requested=delta)
    return Usage(usage.flows + flows, usage.nodes + nodes, usage.storage + storage)
