"""Instance admins, and what only they may do: every org in view, plans, instance usage.

An instance admin is a user whose email ``MINIBASE_INSTANCE_ADMINS`` lists
(comma-separated), or who was made one with ``minibase admin grant EMAIL`` (table
``instance_admins``, by normalized email, so an address may be granted before its account
exists). Nothing is cached: a grant or a revoke takes effect on every running instance at
the next request. The routes under ``/v1/admin`` answer 404 to everyone else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select

from minibase.config import Settings
from minibase.domain.emails import fold_email, normalize_email
from minibase.domain.events import Event, EventKind
from minibase.domain.plans import Plan
from minibase.domain.principal import SYSTEM, Principal
from minibase.ids import now_ms
from minibase.services import audit
from minibase.services.audit import RequestMeta
from minibase.services.orgs import load_org, org_json
from minibase.services.pagination import decode_cursor, encode_cursor
from minibase.store.org_index import all_orgs
from minibase.store.tables import instance_admins, organizations, users
from minibase.store.unit_of_work import Store


def listed_admins(settings: Settings) -> set[str]:
    """The emails ``MINIBASE_INSTANCE_ADMINS`` lists, normalized."""
    return {fold_email(e) for e in settings.instance_admins.split(",") if e.strip()}


async def is_instance_admin(store: Store, settings: Settings, principal: Principal) -> bool:
    """Whether ``principal`` is a signed-in user who is an instance admin (never a key)."""
    if principal.kind != "user" or principal.user_id is None:
        return False
    async with store.global_(principal) as uow:
        email = (
            await uow.execute(select(users.c.email).where(users.c.id == principal.user_id))
        ).scalar_one_or_none()
        if email is None:
            return False
        email = fold_email(email)
        if email in listed_admins(settings):
            return True
        granted = await uow.execute(
            select(instance_admins.c.email).where(instance_admins.c.email == email)
        )
        return granted.first() is not None


async def grant(store: Store, email: str, granted_by: str) -> bool:
    """Make ``email`` an instance admin; False when it already was one by grant."""
    email = normalize_email(email)
    async with store.global_(SYSTEM, write=True) as uow:
        exists = await uow.execute(
            select(instance_admins.c.email).where(instance_admins.c.email == email)
        )
        if exists.first() is not None:
            return False
        await uow.execute(
            insert(instance_admins).values(
                email=email, granted_by=granted_by[:200], granted_at=now_ms()
            )
        )
    return True


async def revoke(store: Store, email: str) -> bool:
    """Take a grant back; False when there was none. (An address listed in
    ``MINIBASE_INSTANCE_ADMINS`` stays an admin until the setting changes.)"""
    async with store.global_(SYSTEM, write=True) as uow:
        gone = await uow.execute(
            delete(instance_admins)
            .where(instance_admins.c.email == fold_email(email))
            .returning(instance_admins.c.email)
        )
        return gone.first() is not None


async def list_admins(store: Store, settings: Settings) -> list[dict[str, Any]]:
    """Every instance admin: those granted (when, by whom), then those the setting lists."""
    async with store.global_(SYSTEM) as uow:
        rows = (await uow.execute(select(instance_admins).order_by(instance_admins.c.email))).all()
    granted = [
        {"email": r.email, "source": "grant", "grantedBy": r.granted_by, "grantedAt": r.granted_at}
        for r in rows
    ]
    listed = [
        {"email": e, "source": "setting", "grantedBy": None, "grantedAt": None}
        for e in sorted(listed_admins(settings))
    ]
    return granted + listed


async def list_orgs(store: Store, limit: int, cursor: str | None) -> dict[str, Any]:
    """Every organization, oldest first, in pages (each org read in its own scope)."""
    after = decode_cursor(cursor, 1)
    async with store.global_(SYSTEM) as uow:
        refs = await all_orgs(uow)
    ids = [ref.id for ref in refs]
    start = ids.index(after[0]) + 1 if after and after[0] in ids else 0
    chosen = ids[start : start + limit]
    items = []
    for org_id in chosen:
        async with store.tenant(org_id, SYSTEM) as tenant:
            items.append(org_json(await load_org(tenant)))
    more = start + limit < len(ids)
    return {"items": items, "nextCursor": encode_cursor([chosen[-1]]) if more else None}


async def instance_usage(store: Store) -> dict[str, Any]:
    """Totals over the whole instance, and organizations per plan."""
    async with store.global_(SYSTEM) as uow:
        refs = await all_orgs(uow)
        user_count = (await uow.execute(select(func.count()).select_from(users))).scalar_one()
    totals = {"flows": 0, "nodes": 0, "storage": 0}
    plans = {plan.value: 0 for plan in Plan}
    for ref in refs:
        plans[ref.plan] = plans.get(ref.plan, 0) + 1
        async with store.tenant(ref.id, SYSTEM) as tenant:
            row = await load_org(tenant)
        totals["flows"] += row.flows_created
        totals["nodes"] += row.nodes_used
        totals["storage"] += row.storage_used
    return {"organizations": len(refs), "users": int(user_count), **totals, "plans": plans}


async def set_plan(
    store: Store, org_id: str, plan: Plan, actor: Principal, meta: RequestMeta
) -> dict[str, Any]:
    """Change an org's plan (recorded in its audit log); 404 for no such org."""
    async with store.tenant(org_id, actor, write=True) as uow:
        row = await load_org(uow, for_update=True)
        if row.plan != plan.value:
            await uow.execute(
                uow.update(organizations).values(plan=plan.value, updated_at=now_ms())
            )
            uow.emit(Event(org_id, EventKind.ORG, (org_id,)))
            await audit.record(
                uow,
                "org.plan_change",
                "organization",
                org_id,
                meta=meta,
                details={"from": row.plan, "to": plan.value},
            )
            row = await load_org(uow)
    return org_json(row)
