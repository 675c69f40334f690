"""Custom dashboards: a member's saved set of charts over the analytics, with filters.

A dashboard belongs to the member who saved it; ``shared`` ones are seen (not changed) by
every member of the org. Each chart names a ``metric`` of the analytics
(``services/analytics.py``) and how to draw it; the filters are the analytics' range and
flow. ``GET .../dashboards/{id}/data`` runs the analytics with the dashboard's filters
and returns each chart's data, so a client draws the dashboard from one call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_

from minibase.domain.events import Event, EventKind
from minibase.domain.principal import Principal
from minibase.errors import Forbidden, NotFound
from minibase.ids import new_id, now_ms
from minibase.services import analytics
from minibase.services.pagination import keyset, page
from minibase.store.tables import dashboards
from minibase.store.unit_of_work import Store, TenantUnitOfWork

METRICS = {
    "daily.runs": ("daily", "runs"),
    "daily.failures": ("daily", "failures"),
    "daily.edits": ("daily", "edits"),
    "daily.activeUsers": ("daily", "activeUsers"),
    "daily.storage": ("daily", "storage"),
    "nodeTypes.runs": ("nodeTypes", "runs"),
    "nodeTypes.p50": ("nodeTypes", "p50"),
    "nodeTypes.p95": ("nodeTypes", "p95"),
    "nodeTypes.failures": ("nodeTypes", "failures"),
    "slowestNodes.p95": ("slowestNodes", "p95"),
    "flows.runs": ("flows", "runs"),
    "flows.failures": ("flows", "failures"),
    "flows.p95": ("flows", "p95"),
    "usage": ("usage", None),
    "suggestions": ("suggestions", None),
}
"""Every metric a chart may show: the analytics section it reads, and the field."""

CHART_TYPES = ("line", "bar", "table", "number")
RANGE_DAYS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
"""Relative ranges a dashboard may keep instead of fixed ``from``/``to``."""


def dashboard_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "organizationId": row.organization_id,
        "ownerId": row.owner_id,
        "name": row.name,
        "charts": row.charts,
        "filters": row.filters,
        "shared": bool(row.shared),
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }


def _owner(principal: Principal) -> str:
    return principal.user_id or principal.id


def _visible(uow: TenantUnitOfWork) -> Any:
    return or_(dashboards.c.owner_id == _owner(uow.principal), dashboards.c.shared.is_(True))


async def _load(uow: TenantUnitOfWork, dashboard_id: str, *, mine: bool) -> Any:
    row = (
        await uow.execute(
            uow.select(dashboards).where(dashboards.c.id == dashboard_id, _visible(uow))
        )
    ).first()
    if row is None:
        raise NotFound("No such dashboard.")
    if mine and row.owner_id != _owner(uow.principal):
        raise Forbidden("Only its owner may change a dashboard.")
    return row


async def create_dashboard(
    store: Store, org_id: str, principal: Principal, fields: dict[str, Any]
) -> dict[str, Any]:
    async with store.tenant(org_id, principal, write=True) as uow:
        dashboard_id = new_id("dsh")
        now = now_ms()
        await uow.execute(
            uow.insert(
                dashboards,
                id=dashboard_id,
                owner_id=_owner(principal),
                name=fields["name"],
                charts=fields.get("charts", []),
                filters=fields.get("filters", {}),
                shared=bool(fields.get("shared", False)),
                created_at=now,
                updated_at=now,
            )
        )
        uow.emit(Event(org_id, EventKind.DASHBOARDS, (dashboard_id,)))
        return dashboard_json(await _load(uow, dashboard_id, mine=True))


async def list_dashboards(
    store: Store, org_id: str, principal: Principal, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """The caller's dashboards and the org's shared ones, newest first."""
    d = dashboards.c
    async with store.tenant(org_id, principal) as uow:
        stmt = keyset(
            uow.select(dashboards).where(_visible(uow)),
            [d.created_at, d.id],
            cursor,
            limit,
            descending=True,
        )
        rows = (await uow.execute(stmt)).all()
    return page(rows, limit, render=dashboard_json, key=lambda r: [r.created_at, r.id])


async def get_dashboard(
    store: Store, org_id: str, principal: Principal, dashboard_id: str
) -> dict[str, Any]:
    async with store.tenant(org_id, principal) as uow:
        return dashboard_json(await _load(uow, dashboard_id, mine=False))


async def update_dashboard(
    store: Store, org_id: str, principal: Principal, dashboard_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    async with store.tenant(org_id, principal, write=True) as uow:
        await _load(uow, dashboard_id, mine=True)
        values = {k: v for k, v in changes.items() if k in ("name", "charts", "filters", "shared")}
        await uow.execute(
            uow.update(dashboards)
            .where(dashboards.c.id == dashboard_id)
            .values(**values, updated_at=now_ms())
        )
        uow.emit(Event(org_id, EventKind.DASHBOARDS, (dashboard_id,)))
        return dashboard_json(await _load(uow, dashboard_id, mine=True))


async def delete_dashboard(
    store: Store, org_id: str, principal: Principal, dashboard_id: str
) -> None:
    async with store.tenant(org_id, principal, write=True) as uow:
        await _load(uow, dashboard_id, mine=True)
        await uow.execute(uow.delete(dashboards).where(dashboards.c.id == dashboard_id))
        uow.emit(Event(org_id, EventKind.DASHBOARDS, (dashboard_id,)))


def _window(filters: dict[str, Any]) -> analytics.Range:
    end = filters.get("to")
    start = filters.get("from")
    relative = filters.get("range")
    if relative is not None:
        end = end if end is not None else now_ms()
        start = end - RANGE_DAYS[relative] * analytics.DAY_MS
    return analytics.parse_range(start, end, filters.get("flowId"))


async def dashboard_data(
    store: Store, org_id: str, principal: Principal, dashboard_id: str
) -> dict[str, Any]:
    """Each chart of the dashboard with its data, from one run of the analytics."""
    async with store.tenant(org_id, principal) as uow:
        row = await _load(uow, dashboard_id, mine=False)
    window = _window(row.filters)
    result = await analytics.analytics(store, org_id, principal, window)
    charts = []
    for chart in row.charts:
        section, field = METRICS[chart["metric"]]
        data = result[section]
        if field is not None:
            key = {"daily": "day", "nodeTypes": "type", "flows": "flowId"}.get(section)
            data = [
                {"key": item.get(key) if key else item.get("nodeId"), "value": item.get(field)}
                for item in data
            ]
        charts.append({**chart, "data": data})
    return {
        "dashboard": dashboard_json(row),
        "from": window.start,
        "to": window.end,
        "charts": charts,
    }
