"""Personal data: ``GET /v1/me/export`` (everything about the caller) and ``DELETE /v1/me``.

The export gathers every row that names the caller: their account and sessions, and in
each org they belong to, every row whose user column (``created_by``, ``actor_id``,
``author_id``, ``assignee_id`` ...) is theirs. Secrets (password and token hashes) are
left out; binary columns are left out but for a flow's document, which is included as
JSON.

Erasure removes the caller from every org (``member.leave`` in each audit log), then
deletes the account: sessions, memberships, notifications and verifications go with it
(foreign keys cascade), and live sockets of those sessions close. Rows the caller made
in an org (flows, versions, comments, audit events) stay with the org and keep the
caller's user id, which no longer names anyone: a pseudonym. Refused with 409 while the
caller is the last admin of an org.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import LargeBinary, Table, or_, select

from minibase.domain.events import ALL_ORGS, Event, EventKind
from minibase.domain.principal import SYSTEM, Principal
from minibase.domain.roles import Role
from minibase.errors import Conflict
from minibase.ids import now_ms
from minibase.services import members
from minibase.services.accounts import user_org_ids
from minibase.services.audit import RequestMeta
from minibase.services.notifications import opened
from minibase.store.tables import (
    flows,
    memberships,
    metadata,
    notifications,
    organizations,
    sessions,
    users,
)
from minibase.store.unit_of_work import Store

USER_COLUMNS = frozenset(
    {
        "user_id",
        "created_by",
        "actor_id",
        "author_id",
        "assignee_id",
        "resolved_by",
        "invited_by",
        "accepted_by",
    }
)
SECRET_COLUMNS = frozenset({"password_hash", "token_hash", "key_hash", "sealed_token"})
PAGE = 500


def _json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _render(table: Table, row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in table.c:
        name = str(column.name)
        if name in SECRET_COLUMNS or name == "organization_id":
            continue
        value = getattr(row, name)
        if isinstance(column.type, LargeBinary):
            if table is not flows or name != "document":
                continue
            value = orjson.loads(value)
        out[_json_name(name)] = value
    return out


def _user_tables(*, tenant: bool) -> list[tuple[Table, list[Any]]]:
    found = []
    for table in metadata.sorted_tables:
        if bool(table.info.get("tenant")) != tenant or table is users:
            continue
        columns = [c for c in table.c if c.name in USER_COLUMNS]
        if columns:
            found.append((table, columns))
    return found


def _kind(table: Table) -> str:
    return _json_name(str(table.name))


async def export_me(store: Store, principal: Principal) -> dict[str, Any]:
    assert principal.user_id is not None
    me = principal.user_id
    result: dict[str, Any] = {"exportedAt": now_ms()}
    async with store.global_(principal) as uow:
        user = (await uow.execute(select(users).where(users.c.id == me))).one()
        result["user"] = _render(users, user)
        for table, columns in _user_tables(tenant=False):
            if table is memberships:
                continue
            stmt = select(table).where(or_(*[c == me for c in columns]))
            rows = (await uow.execute(stmt)).all()
            if table is notifications:
                rows = await opened(uow, rows)  # excerpts sealed under their org's key
            result[_kind(table)] = [_render(table, r) for r in rows]
    orgs: list[dict[str, Any]] = []
    for org_id in await user_org_ids(store, me):
        async with store.tenant(org_id, principal) as tuow:
            org = (await tuow.execute(tuow.select(organizations))).one()
            role = (
                await tuow.execute(tuow.select(memberships).where(memberships.c.user_id == me))
            ).one()
            entry: dict[str, Any] = {
                "organization": {"id": org.id, "name": org.name},
                "role": role.role,
                "memberSince": role.created_at,
            }
            for table, columns in _user_tables(tenant=True):
                if table is memberships:
                    continue
                stmt = tuow.select(table).where(or_(*[c == me for c in columns]))
                rows = (await tuow.execute(stmt)).all()
                sealer = await tuow.sealer()
                entry[_kind(table)] = [_render(table, sealer.open_row(table, r)) for r in rows]
        orgs.append(entry)
    result["organizations"] = orgs
    return result


async def erase_me(store: Store, principal: Principal, meta: RequestMeta) -> None:
    assert principal.user_id is not None
    me = principal.user_id
    org_ids = await user_org_ids(store, me)
    blocking = []
    for org_id in org_ids:
        async with store.tenant(org_id, principal) as uow:
            admins = [
                r.user_id
                for r in (
                    await uow.execute(
                        uow.select(memberships).where(memberships.c.role == Role.ADMIN.value)
                    )
                ).all()
            ]
        if admins == [me]:
            blocking.append(org_id)
    if blocking:
        raise Conflict(
            "You are the last admin of an organization: make another member admin, or "
            "delete the organization, before deleting your account.",
            {"organizationIds": blocking},
        )
    for org_id in org_ids:
        await members.remove_member(store, org_id, principal, me, meta)
    async with store.global_(SYSTEM, write=True) as uow:
        session_ids = [
            r.id
            for r in (
                await uow.execute(select(sessions.c.id).where(sessions.c.user_id == me))
            ).all()
        ]
        await uow.execute(users.delete().where(users.c.id == me))
        uow.emit(
            Event(
                ALL_ORGS,
                EventKind.CREDENTIALS,
                tuple(session_ids),
                extra={"type": "session", "userId": me},
            )
        )
