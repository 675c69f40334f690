"""Organizations: create, list, read, update, delete; and who may act in one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from minibase.domain.events import Event, EventKind
from minibase.domain.plans import PLAN_DEFAULTS, SETTING_KEYS, Plan
from minibase.domain.principal import Principal
from minibase.domain.roles import Role
from minibase.errors import Forbidden, NotFound
from minibase.ids import new_id, now_ms
from minibase.services import audit, retention
from minibase.services.audit import RequestMeta
from minibase.services.pagination import decode_cursor, keyset, page
from minibase.store.tables import memberships, organizations
from minibase.store.unit_of_work import Store, TenantUnitOfWork


def org_json(row: Any) -> dict[str, Any]:
    settings = row.settings or {}
    return {
        "id": row.id,
        "name": row.name,
        "settings": {key: settings.get(key) for key in SETTING_KEYS},
        "billing": {
            "plan": row.plan,
            "subscriptionId": row.subscription_id,
            "usageMetrics": {
                "nodesUsed": row.nodes_used,
                "flowsCreated": row.flows_created,
                "storageUsed": row.storage_used,
            },
        },
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }


async def role_in(store: Store, org_id: str, principal: Principal) -> Role:
    """The principal's role in ``org_id``; :class:`NotFound` when it has none there.

    Another org's id and a random id answer the same, so existence never leaks.
    """
    if principal.kind == "api_key":
        if principal.organization_id != org_id or principal.role is None:
            raise NotFound("No such organization.")
        return principal.role
    if principal.kind == "system":
        return Role.ADMIN
    assert principal.user_id is not None
    key = (org_id, principal.user_id)
    cached = store.cache.roles.get(key)
    if cached is not None:
        return cached
    epoch = store.cache.roles.epoch
    async with store.tenant(org_id, principal) as uow:
        role = (
            await uow.execute(
                uow.select(memberships, memberships.c.role).where(
                    memberships.c.user_id == principal.user_id
                )
            )
        ).scalar_one_or_none()
    if role is None:
        raise NotFound("No such organization.")
    store.cache.roles.put(key, epoch, Role(role))
    return Role(role)


async def load_org(uow: TenantUnitOfWork, *, for_update: bool = False) -> Any:
    stmt = uow.select(organizations)
    if for_update and uow.is_postgres:
        stmt = stmt.with_for_update()
    row = (await uow.execute(stmt)).first()
    if row is None:
        raise NotFound("No such organization.")
    return row


async def create_org(
    store: Store, principal: Principal, name: str, plan: Plan, meta: RequestMeta
) -> dict[str, Any]:
    assert principal.user_id is not None
    org_id = new_id("org")
    now = now_ms()
    async with store.tenant(org_id, principal, write=True) as uow:
        await uow.execute(
            uow.insert(
                organizations,
                name=name,
                settings={},
                plan=plan.value,
                subscription_id=None,
                nodes_used=0,
                flows_created=0,
                storage_used=0,
                created_at=now,
                updated_at=now,
            )
        )
        await uow.execute(
            uow.insert(
                memberships, user_id=principal.user_id, role=Role.ADMIN.value, created_at=now
            )
        )
        await audit.record(
            uow,
            "org.create",
            "organization",
            org_id,
            meta=meta,
            details={"name": name, "plan": plan.value},
        )
        row = await load_org(uow)
    return org_json(row)


async def list_orgs(
    store: Store, principal: Principal, limit: int = 50, cursor: str | None = None
) -> dict[str, Any]:
    """The caller's organizations, oldest first (an API key sees only its own)."""
    after = decode_cursor(cursor, 2)
    if principal.kind == "api_key":
        assert principal.organization_id is not None
        async with store.tenant(principal.organization_id, principal) as tenant_uow:
            rows = [] if after is not None else [await load_org(tenant_uow)]
        return page(rows, limit, render=org_json, key=lambda r: [r.created_at, r.id])
    async with store.global_(principal) as uow:
        stmt = (
            select(organizations)
            .join(memberships, memberships.c.organization_id == organizations.c.id)
            .where(memberships.c.user_id == principal.user_id)
        )
        stmt = keyset(stmt, [organizations.c.created_at, organizations.c.id], cursor, limit)
        rows = list((await uow.execute(stmt)).all())
    return page(rows, limit, render=org_json, key=lambda r: [r.created_at, r.id])


async def get_org(store: Store, org_id: str, principal: Principal) -> dict[str, Any]:
    async with store.tenant(org_id, principal) as uow:
        return org_json(await load_org(uow))


async def update_org(
    store: Store,
    org_id: str,
    principal: Principal,
    changes: dict[str, Any],
    meta: RequestMeta,
    *,
    instance_admin: bool = False,
) -> dict[str, Any]:
    """Apply ``{name?, settings?, billing?: {plan?}}``; settings merge key by key.

    The plan is an instance admin's decision: anyone else changing it, or raising a
    limit in ``settings`` above the plan's, gets 403 ``forbidden`` (lowering one is
    the org admin's to decide).
    """
    async with store.tenant(org_id, principal, write=True) as uow:
        row = await load_org(uow, for_update=True)
        if not instance_admin:
            _check_within_plan(row.plan, changes)
        values: dict[str, Any] = {"updated_at": now_ms()}
        if changes.get("name") is not None:
            values["name"] = changes["name"]
        if changes.get("settings") is not None:
            merged = dict(row.settings or {})
            merged.update(changes["settings"])
            values["settings"] = {k: merged.get(k) for k in SETTING_KEYS}
            if "retention" in changes["settings"]:
                await retention.record_policy(uow, values["settings"]["retention"])
        billing = changes.get("billing") or {}
        if billing.get("plan") is not None:
            values["plan"] = Plan(billing["plan"]).value
        await uow.execute(uow.update(organizations).values(**values))
        uow.emit(Event(org_id, EventKind.ORG, (org_id,)))
        await audit.record(
            uow,
            "org.update",
            "organization",
            org_id,
            meta=meta,
            details={k: v for k, v in changes.items() if v is not None},
        )
        row = await load_org(uow)
    return org_json(row)


def _check_within_plan(plan: str, changes: dict[str, Any]) -> None:
    wanted = (changes.get("billing") or {}).get("plan")
    if wanted is not None and wanted != plan:
        raise Forbidden(
            "An organization's plan is set by an instance admin "
            "(PATCH /v1/admin/orgs/{orgId} or `minibase admin set-plan`)."
        )
    defaults = PLAN_DEFAULTS[Plan(plan)]
    ceilings = {
        "maxNodes": defaults.max_nodes,
        "maxFlows": defaults.max_flows,
        "storageQuota": defaults.storage_quota,
    }
    for key, value in (changes.get("settings") or {}).items():
        ceiling = ceilings.get(key)
        if value is not None and ceiling is not None and value > ceiling:
            raise Forbidden(
                f"{key} may be lowered below the {plan} plan's {ceiling}, not raised above it.",
                {"setting": key, "limit": ceiling, "requested": value},
            )


async def delete_org(store: Store, org_id: str, principal: Principal, meta: RequestMeta) -> None:
    """Delete the org and, through cascading keys, every row it owns."""
    async with store.tenant(org_id, principal, write=True) as uow:
        await load_org(uow)
        # Crypto-shredding: the org's data key goes first, and the shred list keeps a
        # backup restored later from bringing it back (docs/security.md).
        await uow.shred_data_key()
        await uow.execute(uow.delete(organizations))
        uow.emit(Event(org_id, EventKind.ORG, (org_id,), extra={"deleted": True}))
