"""Metering and cost attribution: an org's usage in one calendar month (UTC), priced from
its plan's prices (``MINIBASE_PRICES``), broken down by flow and by member.

* **computeMs**: node compute time of runs created in the month (executions that
  computed; cached results cost nothing). By flow: the run's flow; by member: who started
  the run (a schedule or webhook run counts for the member who set it up).
* **runs**: runs created in the month, by flow and by member.
* **storageByteDays**: for every stored row (a flow's current document, its versions,
  node outputs, templates), its bytes times the days of the month it existed (from its
  creation to its deletion, the month's end or now, whichever comes first), fractional.
  Rows deleted for good (purged, retention) no longer count. By flow: all but templates.
* **seats**: members at the month's end (or now, for the current month).

Each item's cost is its quantity times the plan's unit price; ``total`` is their sum.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, select

from minibase.domain.plans import Plan
from minibase.domain.pricing import ITEMS, Prices
from minibase.domain.principal import SYSTEM, Principal
from minibase.errors import ValidationFailed
from minibase.ids import now_ms
from minibase.services.orgs import load_org
from minibase.store.org_index import all_orgs
from minibase.store.tables import (
    flow_versions,
    flows,
    memberships,
    node_outputs,
    run_nodes,
    runs,
    templates,
    users,
)
from minibase.store.unit_of_work import Store, TenantUnitOfWork

DAY_MS = 86_400_000
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Month:
    label: str
    start: int
    end: int

    def effective_end(self) -> int:
        """The month's end, or now for the current month (no future days are billed)."""
        return min(self.end, max(self.start, now_ms()))


def parse_month(text: str | None) -> Month:
    """``YYYY-MM`` (UTC); the current month when absent; anything else → 422."""
    if text is None:
        today = datetime.now(UTC)
        text = f"{today.year:04d}-{today.month:02d}"
    match = _MONTH.match(text)
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        raise ValidationFailed(
            [{"field": "month", "message": "A month as YYYY-MM.", "type": "value_error"}]
        )
    year, month = int(match.group(1)), int(match.group(2))
    start = datetime(year, month, 1, tzinfo=UTC)
    days = calendar.monthrange(year, month)[1]
    return Month(text, int(start.timestamp() * 1000), int(start.timestamp() * 1000) + days * DAY_MS)


def _byte_ms(size: Any, created: Any, deleted: Any, m: Month) -> Any:
    """``size`` times the ms of the month a row existed, as SQL (portable: no LEAST/GREATEST)."""
    end = m.effective_end()
    until = end if deleted is None else case((deleted < end, deleted), else_=end)
    since = case((created > m.start, created), else_=m.start)
    span = until - since
    return case((span > 0, size * span), else_=0)


def _line(quantity: float, price: float) -> dict[str, float]:
    return {"quantity": quantity, "unitPrice": price, "cost": round(quantity * price, 6)}


def _priced(q: dict[str, float], prices: Prices) -> dict[str, Any]:
    items = {item: _line(q.get(item, 0.0), prices.of(item)) for item in ITEMS}
    return {"items": items, "total": round(sum(i["cost"] for i in items.values()), 6)}


async def billing_usage(
    store: Store,
    org_id: str,
    principal: Principal,
    month: Month,
    price_list: dict[Plan, Prices],
) -> dict[str, Any]:
    async with store.tenant(org_id, principal) as uow:
        return await _usage(uow, month, price_list)


async def _usage(
    uow: TenantUnitOfWork, month: Month, price_list: dict[Plan, Prices]
) -> dict[str, Any]:
    org = await load_org(uow)
    prices = price_list[Plan(org.plan)]
    ru, rn = runs.c, run_nodes.c
    in_month = [ru.created_at >= month.start, ru.created_at < month.end]

    compute = (
        uow.select(
            run_nodes,
            ru.flow_id,
            ru.created_by,
            func.sum(rn.compute_time).label("ms"),
        )
        .join(runs, and_(ru.organization_id == rn.organization_id, ru.id == rn.run_id))
        .where(*in_month, rn.cached.is_(False), rn.compute_time.is_not(None))
        .group_by(ru.flow_id, ru.created_by)
    )
    counts = (
        uow.select(runs, ru.flow_id, ru.created_by, func.count().label("n"))
        .where(*in_month)
        .group_by(ru.flow_id, ru.created_by)
    )
    per_flow: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    per_member: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in (await uow.execute(compute)).all():
        per_flow[row.flow_id]["computeMs"] += float(row.ms or 0)
        per_member[row.created_by]["computeMs"] += float(row.ms or 0)
    for row in (await uow.execute(counts)).all():
        per_flow[row.flow_id]["run"] += int(row.n)
        per_member[row.created_by]["run"] += int(row.n)

    f, fv, no, t = flows.c, flow_versions.c, node_outputs.c, templates.c
    end = month.effective_end()
    storage_rows = [
        uow.select(
            flows,
            f.id.label("flow_id"),
            func.sum(_byte_ms(f.size_bytes, f.created_at, f.deleted_at, month)).label("b"),
        )
        .where(f.created_at < end)
        .group_by(f.id),
        uow.select(
            flow_versions,
            fv.flow_id,
            func.sum(_byte_ms(fv.size_bytes, fv.created_at, None, month)).label("b"),
        )
        .where(fv.created_at < end)
        .group_by(fv.flow_id),
        uow.select(
            node_outputs,
            no.flow_id,
            func.sum(_byte_ms(no.size_bytes, no.timestamp, None, month)).label("b"),
        )
        .where(no.timestamp < end)
        .group_by(no.flow_id),
    ]
    for stmt in storage_rows:
        for row in (await uow.execute(stmt)).all():
            if row.b:
                per_flow[row.flow_id]["storageByteDay"] += float(row.b) / DAY_MS
    template_ms = (
        await uow.execute(
            uow.select(
                templates, func.sum(_byte_ms(t.size_bytes, t.created_at, None, month))
            ).where(t.created_at < end)
        )
    ).scalar()
    template_days = float(template_ms or 0) / DAY_MS

    members = (
        await uow.execute(
            uow.select(memberships, memberships.c.user_id, users.c.email, users.c.name)
            .join(users, users.c.id == memberships.c.user_id)
            .where(memberships.c.created_at < end)
        )
    ).all()
    names = {
        row.id: row.name
        for row in (
            await uow.execute(uow.select(flows, f.id, f.name).where(f.id.in_(list(per_flow))))
        ).all()
    }
    seated = {row.user_id for row in members}
    member_ids = sorted(set(per_member) | seated)
    emails = {
        row.id: row.email
        for row in (
            await uow.execute(select(users.c.id, users.c.email).where(users.c.id.in_(member_ids)))
        ).all()
    }

    totals: dict[str, float] = defaultdict(float)
    for q in per_flow.values():
        for item, value in q.items():
            totals[item] += value
    totals["storageByteDay"] += template_days
    totals["seat"] = len(members)
    by_flow = [
        {
            "flowId": flow_id,
            "name": names.get(flow_id),
            "computeMs": round(q["computeMs"], 3),
            "runs": int(q["run"]),
            "storageByteDays": round(q["storageByteDay"], 3),
            **_priced(dict(q), prices),
        }
        for flow_id, q in sorted(per_flow.items())
    ]
    by_member = [
        {
            "userId": user_id,
            "email": emails.get(user_id),
            "seat": user_id in seated,
            "computeMs": round(per_member[user_id]["computeMs"], 3),
            "runs": int(per_member[user_id]["run"]),
            **_priced({**per_member[user_id], "seat": float(user_id in seated)}, prices),
        }
        for user_id in member_ids
    ]
    summary = _priced(dict(totals), prices)
    return {
        "organizationId": uow.org_id,
        "month": month.label,
        "from": month.start,
        "to": month.end,
        "plan": org.plan,
        "computeMs": round(totals["computeMs"], 3),
        "runs": int(totals["run"]),
        "storageByteDays": round(totals["storageByteDay"], 3),
        "seats": int(totals["seat"]),
        "items": summary["items"],
        "total": summary["total"],
        "currency": "USD",
        "byFlow": by_flow,
        "byMember": by_member,
    }


async def instance_usage(
    store: Store, month: Month, price_list: dict[Plan, Prices]
) -> dict[str, Any]:
    """Every org's usage of the month (the caller was checked to be an instance admin)."""
    async with store.global_(SYSTEM) as uow:
        orgs = await all_orgs(uow)
    items = []
    for ref in orgs:
        async with store.tenant(ref.id, SYSTEM) as tenant:
            usage = await _usage(tenant, month, price_list)
        items.append(
            {
                "organizationId": ref.id,
                "name": ref.name,
                "plan": ref.plan,
                **{k: usage[k] for k in ("computeMs", "runs", "storageByteDays", "seats", "total")},
            }
        )
    return {
        "month": month.label,
        "items": items,
        "total": round(sum(i["total"] for i in items), 6),
        "currency": "USD",
    }
