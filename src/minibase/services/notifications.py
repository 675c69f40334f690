"""Per-user notifications: created beside the change that causes them, read by their user.

:func:`notify` runs inside the transaction of the change (a comment, a role change, a
quota crossing ...), so a notification exists exactly when its cause committed. Rows
live in a global table, keyed by user: one list spans every org a user belongs to, and
every read here is confined to the caller's own rows. A row also records whether it is
to be mailed (``email_status``: ``pending`` per the user's preferences, else ``off``);
``services/notification_mail.py`` delivers the pending ones.

What a notification quotes of an org's sealed content (a comment's ``excerpt``) is
stored sealed under that org's data key like the content itself (:data:`SEALED_FIELDS`),
and opened when read: deleting the org shreds it with the rest.

Each change publishes a ``notifications`` event for org ``*`` whose ids are the users
concerned, which keeps the per-user live query ``notifications.list`` current.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from minibase.domain.events import ALL_ORGS, Event, EventKind
from minibase.domain.principal import Principal
from minibase.errors import Undecryptable, ValidationFailed
from minibase.ids import new_id, now_ms
from minibase.services.pagination import keyset, page
from minibase.store.data_keys import TEXT_PREFIX, Sealer
from minibase.store.tables import notification_preferences, notifications
from minibase.store.unit_of_work import GlobalUnitOfWork, Store, TenantUnitOfWork, UnitOfWork


class NotificationKind(StrEnum):
    MENTION = "mention"
    COMMENT_REPLY = "comment_reply"
    INVITATION = "invitation"
    ROLE_CHANGED = "role_changed"
    QUOTA_WARNING = "quota_warning"
    RUN_FAILED = "run_failed"
    TASK_ASSIGNED = "task_assigned"


NEVER_MAILED = frozenset({NotificationKind.INVITATION})
"""Kinds whose mail is sent by their own channel (the invitation mail carries the link)."""

DEFAULT_EMAILS: dict[str, bool] = {
    kind.value: kind not in NEVER_MAILED for kind in NotificationKind
}
"""Mail per kind for a user who set no preference."""

PENDING, SENDING, SENT, FAILED, OFF = "pending", "sending", "sent", "failed", "off"
"""``email_status`` values."""


SEALED_FIELDS = ("excerpt",)
"""Fields of ``data`` that quote sealed content of the source org (a comment's body)."""


def _sealed_field_id(notification_id: str, field: str) -> str:
    return f"{notification_id}/{field}"


def _seal_data(sealer: Sealer, notification_id: str, data: dict[str, Any]) -> dict[str, Any]:
    sealed = {
        field: sealer.seal_text(
            notifications.c.data, _sealed_field_id(notification_id, field), data[field]
        )
        for field in SEALED_FIELDS
        if isinstance(data.get(field), str)
    }
    return {**data, **sealed} if sealed else data


async def opened(uow: GlobalUnitOfWork, rows: Sequence[Any]) -> list[Any]:
    """``rows`` of ``notifications`` with their sealed fields opened; a field whose org's
    key is gone (the org was deleted: crypto-shredded) reads as ``None``."""
    sealers: dict[str, Sealer] = {}
    out: list[Any] = []
    for row in rows:
        data = row.data
        fields = [
            f
            for f in SEALED_FIELDS
            if isinstance(data.get(f), str) and data[f].startswith(TEXT_PREFIX)
        ]
        if not fields:
            out.append(row)
            continue
        org_id = row.source_org_id
        data = dict(data)
        for field in fields:
            try:
                if org_id not in sealers:
                    sealers[org_id] = await uow.sealer_of(org_id)
                data[field] = sealers[org_id].open_text(
                    notifications.c.data, _sealed_field_id(row.id, field), data[field]
                )
            except Undecryptable:
                data[field] = None
        out.append(SimpleNamespace(**{**row._mapping, "data": data}))
    return out


def notification_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "organizationId": row.source_org_id,
        "data": row.data,
        "read": row.read_at is not None,
        "readAt": row.read_at,
        "createdAt": row.created_at,
    }


def _emails_of(stored: Mapping[str, Any] | None) -> dict[str, bool]:
    merged = dict(DEFAULT_EMAILS)
    for kind, wanted in (stored or {}).items():
        if kind in merged and kind not in NEVER_MAILED:
            merged[kind] = bool(wanted)
    return merged


async def _stored_preferences(uow: UnitOfWork, user_ids: Iterable[str]) -> dict[str, Any]:
    rows = (
        await uow.execute(
            select(notification_preferences.c.user_id, notification_preferences.c.emails).where(
                notification_preferences.c.user_id.in_(list(user_ids))
            )
        )
    ).all()
    return {row.user_id: row.emails for row in rows}


async def notify(
    uow: UnitOfWork,
    user_ids: Iterable[str | None],
    kind: NotificationKind,
    data: dict[str, Any],
    *,
    org_id: str | None = None,
    skip: Iterable[str | None] = (),
) -> list[str]:
    """Create one notification per user (each user once; ``skip``: never these, such as
    the actor), in ``uow``'s transaction. Returns the users notified."""
    skipped = set(skip)
    users = list(dict.fromkeys(u for u in user_ids if u is not None and u not in skipped))
    if not users:
        return []
    preferences = await _stored_preferences(uow, users)
    sealer = None
    if isinstance(uow, TenantUnitOfWork) and org_id == uow.org_id:
        sealer = await uow.sealer()
    now = now_ms()
    ids = [new_id("ntf") for _ in users]
    rows = [
        {
            "id": ntf_id,
            "user_id": user,
            "kind": kind.value,
            "source_org_id": org_id,
            "data": data if sealer is None else _seal_data(sealer, ntf_id, data),
            "created_at": now,
            "read_at": None,
            "email_status": PENDING if _emails_of(preferences.get(user))[kind.value] else OFF,
            "email_claimed_at": None,
        }
        for ntf_id, user in zip(ids, users, strict=True)
    ]
    await uow.execute(insert(notifications).values(rows))
    uow.emit(Event(ALL_ORGS, EventKind.NOTIFICATIONS, tuple(users)))
    return users


def _user_id(principal: Principal) -> str:
    assert principal.user_id is not None, "notifications belong to users"
    return principal.user_id


async def list_notifications(
    store: Store, principal: Principal, *, unread: bool, limit: int, cursor: str | None
) -> dict[str, Any]:
    """The caller's notifications, newest first, with ``unreadCount`` beside the page."""
    user = _user_id(principal)
    async with store.global_(principal) as uow:
        return await list_notifications_in(uow, user, unread=unread, limit=limit, cursor=cursor)


async def list_notifications_in(
    uow: GlobalUnitOfWork, user_id: str, *, unread: bool, limit: int, cursor: str | None
) -> dict[str, Any]:
    n = notifications.c
    mine = n.user_id == user_id
    stmt = select(notifications).where(mine)
    if unread:
        stmt = stmt.where(n.read_at.is_(None))
    stmt = keyset(stmt, [n.created_at, n.id], cursor, limit, descending=True)
    rows = await opened(uow, (await uow.execute(stmt)).all())
    result = page(rows, limit, render=notification_json, key=lambda r: [r.created_at, r.id])
    unread_count = (
        await uow.execute(select(func.count()).where(and_(mine, n.read_at.is_(None))))
    ).scalar_one()
    result["unreadCount"] = int(unread_count)
    return result


async def mark_read(
    store: Store, principal: Principal, *, ids: list[str] | None, everything: bool
) -> dict[str, int]:
    """Mark the caller's notifications ``ids`` (or all of them) read; others' ids are
    ignored like unknown ones. Returns how many changed."""
    if not everything and not ids:
        raise ValidationFailed(
            [{"field": "ids", "message": "Give `ids` or `all: true`.", "type": "missing"}]
        )
    user = _user_id(principal)
    n = notifications.c
    stmt = (
        update(notifications)
        .where(n.user_id == user, n.read_at.is_(None))
        .values(read_at=now_ms())
        .returning(n.id)
    )
    if not everything:
        stmt = stmt.where(n.id.in_(ids or []))
    async with store.global_(principal, write=True) as uow:
        changed = len((await uow.execute(stmt)).all())
        if changed:
            uow.emit(Event(ALL_ORGS, EventKind.NOTIFICATIONS, (user,)))
    return {"updated": changed}


async def email_preferences_in(uow: UnitOfWork, user_id: str) -> dict[str, bool]:
    """Which kinds ``user_id`` gets by mail (``notificationEmails`` of ``GET /v1/me``)."""
    return _emails_of((await _stored_preferences(uow, [user_id])).get(user_id))


async def set_email_preferences(
    store: Store, principal: Principal, changes: Mapping[str, bool]
) -> dict[str, bool]:
    """Merge ``changes`` (kind → mail or not) into the caller's preferences."""
    unknown = sorted(set(changes) - set(DEFAULT_EMAILS))
    fixed = sorted(set(changes) & {k.value for k in NEVER_MAILED})
    if unknown or fixed:
        raise ValidationFailed(
            [
                {
                    "field": f"notificationEmails.{kind}",
                    "message": (
                        f"One of {sorted(set(DEFAULT_EMAILS) - set(fixed))}."
                        if kind in unknown
                        else "Invitations are always mailed (the mail carries the link)."
                    ),
                    "type": "enum",
                }
                for kind in unknown + fixed
            ]
        )
    user = _user_id(principal)
    async with store.global_(principal, write=True) as uow:
        stored = (await _stored_preferences(uow, [user])).get(user)
        merged = {**(stored or {}), **{k: bool(v) for k, v in changes.items()}}
        upsert = (pg_insert if uow.is_postgres else sqlite_insert)(notification_preferences)
        values = {"user_id": user, "emails": merged, "updated_at": now_ms()}
        await uow.execute(
            upsert.values(values).on_conflict_do_update(
                index_elements=["user_id"],
                set_={"emails": upsert.excluded.emails, "updated_at": upsert.excluded.updated_at},
            )
        )
    return _emails_of(merged)
