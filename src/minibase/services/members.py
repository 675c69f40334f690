"""Members of an organization: list, change a role, remove (or leave).

Every change emits a ``members`` event (``extra.change``: ``role``, ``removed``;
invitations add ``joined``), so live queries refresh and sockets of a removed member can
be closed.

An organization always keeps at least one admin. The admin count and the write that
would drop it happen in one write transaction: SQLite serializes writers, and PostgreSQL
writers of one org first take the org's row lock (:meth:`Store.tenant` with
``write=True``), so two admins demoting each other cannot both succeed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from minibase.domain.events import Event, EventKind
from minibase.domain.principal import Principal
from minibase.domain.roles import Role
from minibase.errors import Conflict, NotFound
from minibase.ids import now_ms
from minibase.services import audit
from minibase.services.audit import RequestMeta
from minibase.services.notification_hooks import notify_role_change
from minibase.services.pagination import keyset, page
from minibase.store.tables import memberships, users
from minibase.store.unit_of_work import Store, TenantUnitOfWork


def member_json(row: Any) -> dict[str, Any]:
    return {
        "user": {"id": row.user_id, "email": row.email, "name": row.name},
        "role": row.role,
        "createdAt": row.created_at,
    }


def _member_select(uow: TenantUnitOfWork) -> Any:
    return uow.select(
        memberships,
        memberships.c.user_id,
        memberships.c.role,
        memberships.c.created_at,
        users.c.email,
        users.c.name,
    ).join(users, users.c.id == memberships.c.user_id)


async def list_members(
    store: Store, org_id: str, principal: Principal, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of the org's members (see :func:`list_members_in`)."""
    async with store.tenant(org_id, principal) as uow:
        return await list_members_in(uow, limit=limit, cursor=cursor)


async def list_members_in(
    uow: TenantUnitOfWork, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Members in the order they joined (``created_at``, then user id)."""
    stmt = keyset(
        _member_select(uow), [memberships.c.created_at, memberships.c.user_id], cursor, limit
    )
    rows = (await uow.execute(stmt)).all()
    return page(rows, limit, render=member_json, key=lambda r: [r.created_at, r.user_id])


async def add_member(
    store: Store, org_id: str, email: str, role: Role, principal: Principal, meta: RequestMeta
) -> dict[str, Any]:
    """Make the account with ``email`` a member with ``role`` at once (no invitation; the
    operator's ``minibase admin add-member``). 404 for an unknown org or account, 409 when
    already a member."""
    from minibase.domain.emails import normalize_email
    from minibase.services.orgs import load_org

    async with store.global_(principal) as guow:
        user_id = (
            await guow.execute(select(users.c.id).where(users.c.email == normalize_email(email)))
        ).scalar_one_or_none()
    if user_id is None:
        raise NotFound(f"No account with the email {email}.")
    async with store.tenant(org_id, principal, write=True) as uow:
        await load_org(uow)  # NotFound for an unknown org
        existing = (
            await uow.execute(uow.select(memberships).where(memberships.c.user_id == user_id))
        ).first()
        if existing is not None:
            raise Conflict(f"{email} is already a member ({existing.role}).")
        await uow.execute(
            uow.insert(memberships, user_id=user_id, role=role.value, created_at=now_ms())
        )
        uow.emit(
            Event(
                org_id,
                EventKind.MEMBERS,
                (user_id,),
                extra={"change": "joined", "role": role.value},
            )
        )
        await audit.record(
            uow, "member.add", "user", user_id, meta=meta, details={"role": role.value}
        )
        return member_json(await _load_member(uow, user_id))


async def _load_member(uow: TenantUnitOfWork, user_id: str) -> Any:
    row = (await uow.execute(_member_select(uow).where(memberships.c.user_id == user_id))).first()
    if row is None:
        raise NotFound("No such member.")
    return row


async def _admin_count(uow: TenantUnitOfWork) -> int:
    return int(
        (
            await uow.execute(
                uow.select(memberships, func.count()).where(memberships.c.role == Role.ADMIN.value)
            )
        ).scalar_one()
    )


async def change_role(
    store: Store,
    org_id: str,
    principal: Principal,
    user_id: str,
    role: Role,
    meta: RequestMeta,
) -> dict[str, Any]:
    """Give ``user_id`` the role ``role``; 409 when it would leave the org without admins."""
    async with store.tenant(org_id, principal, write=True) as uow:
        row = await _load_member(uow, user_id)
        if row.role == Role.ADMIN.value and role != Role.ADMIN and await _admin_count(uow) <= 1:
            raise Conflict("The last admin cannot be demoted; make another member admin first.")
        if row.role != role.value:
            await uow.execute(
                uow.update(memberships)
                .where(memberships.c.user_id == user_id)
                .values(role=role.value)
            )
            uow.emit(
                Event(
                    uow.org_id,
                    EventKind.MEMBERS,
                    (user_id,),
                    extra={"change": "role", "role": role},
                )
            )
            await notify_role_change(uow, user_id, row.role, role.value)
            await audit.record(
                uow,
                "member.role_change",
                "user",
                user_id,
                meta=meta,
                details={"from": row.role, "to": role.value},
            )
        row = await _load_member(uow, user_id)
    return member_json(row)


async def remove_member(
    store: Store, org_id: str, principal: Principal, user_id: str, meta: RequestMeta
) -> None:
    """Remove ``user_id`` (or let them leave); 409 for the last admin."""
    async with store.tenant(org_id, principal, write=True) as uow:
        row = await _load_member(uow, user_id)
        if row.role == Role.ADMIN.value and await _admin_count(uow) <= 1:
            raise Conflict(
                "The last admin cannot leave or be removed; make another member admin first."
            )
        await uow.execute(uow.delete(memberships).where(memberships.c.user_id == user_id))
        leaving = principal.user_id == user_id
        uow.emit(Event(uow.org_id, EventKind.MEMBERS, (user_id,), extra={"change": "removed"}))
        await audit.record(
            uow,
            "member.leave" if leaving else "member.remove",
            "user",
            user_id,
            meta=meta,
            details={"role": row.role},
        )
