"""The tamper-evident audit log: one hash-chained row per event, per organization.

``hash = sha256(prev_hash || canonical_event)`` where the canonical event is the sorted-key
JSON of every stored field but the hashes. Rows are written inside the transaction of the
change they record (callers pass their unit of work), so a rolled-back change leaves no
row and a committed one always has its row.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from minibase.domain.principal import Principal
from minibase.ids import new_id, now_ms
from minibase.services.pagination import keyset, page
from minibase.store.tables import audit_events
from minibase.store.unit_of_work import (
    Store,
    TenantUnitOfWork,
    prepared,
    scoped_insert,
    scoped_select,
)

GENESIS_HASH = "0" * 64

_LAST_EVENT = (
    scoped_select(audit_events, audit_events.c.seq, audit_events.c.hash)
    .order_by(audit_events.c.seq.desc())
    .limit(1)
)
_CHAIN_HEAD = prepared(_LAST_EVENT)
_INSERT = prepared(scoped_insert(audit_events))
_SECRET_KEYS = re.compile(r"pass(word)?|token|secret|(^|_)key$|authorization", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Where a request came from, for the audit log."""

    ip: str | None = None
    user_agent: str | None = None


NO_META = RequestMeta()


def actor_of(principal: Principal) -> tuple[str, str | None]:
    if principal.kind == "user":
        return "user", principal.user_id
    if principal.kind == "api_key":
        return "api_key", principal.id
    return "system", None


def _neutralise(value: Any) -> Any:
    """Escape CR/LF (log injection) and drop anything that looks like a secret."""
    if isinstance(value, str):
        return value.replace("\r", "\\r").replace("\n", "\\n")
    if isinstance(value, dict):
        return {str(k): _neutralise(v) for k, v in value.items() if not _SECRET_KEYS.search(str(k))}
    if isinstance(value, list | tuple):
        return [_neutralise(v) for v in value]
    return value


def canonical_event(row: dict[str, Any]) -> bytes:
    """The bytes an audit row's hash covers (every field but ``hash`` and ``prev_hash``)."""
    fields = {
        "organizationId": row["organization_id"],
        "seq": row["seq"],
        "id": row["id"],
        "at": row["at"],
        "actorType": row["actor_type"],
        "actorId": row["actor_id"],
        "action": row["action"],
        "resourceType": row["resource_type"],
        "resourceId": row["resource_id"],
        "ip": row["ip"],
        "userAgent": row["user_agent"],
        "outcome": row["outcome"],
        "details": row["details"],
    }
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_event(row)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last event of an org's chain (``seq`` 0 and the genesis hash when empty)."""

    seq: int
    hash: str


async def chain_head(uow: TenantUnitOfWork) -> ChainHead:
    """The org's last event; read inside a write unit of work, which serializes writers."""
    last = (await uow.execute(_CHAIN_HEAD)).first()
    return ChainHead(last.seq, last.hash) if last else ChainHead(0, GENESIS_HASH)


def chain_head_columns() -> list[Any]:
    """:func:`chain_head` as two columns (``audit_seq``, ``audit_hash``) for a prepared
    statement that reads it along with other rows (one round trip instead of two)."""
    return [
        _LAST_EVENT.with_only_columns(column).scalar_subquery().label(f"audit_{column.key}")
        for column in (audit_events.c.seq, audit_events.c.hash)
    ]


def chain_head_of(row: Any) -> ChainHead:
    """The head read by :func:`chain_head_columns`."""
    if row.audit_seq is None:
        return ChainHead(0, GENESIS_HASH)
    return ChainHead(row.audit_seq, row.audit_hash)


def chained_event(
    head: ChainHead,
    org_id: str,
    principal: Principal,
    action: str,
    resource_type: str,
    resource_id: str | None,
    *,
    meta: RequestMeta = NO_META,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The values of the event that follows ``head`` (its ``seq`` and ``hash`` are the
    next head), ready for :func:`insert_events`."""
    actor_type, actor_id = actor_of(principal)
    row: dict[str, Any] = {
        "organization_id": org_id,
        "seq": head.seq + 1,
        "id": new_id("evt"),
        "at": now_ms(),
        "actor_type": actor_type,
        "actor_id": actor_id,
        "action": action,
        "resource_type": resource_type,
        "resource_id": _neutralise(resource_id),
        "ip": _neutralise(meta.ip),
        "user_agent": _neutralise((meta.user_agent or "")[:512]) or None,
        "outcome": outcome,
        "details": _neutralise(details or {}),
    }
    row["prev_hash"] = head.hash
    row["hash"] = chain_hash(head.hash, row)
    del row["organization_id"]  # the unit of work stamps its own org
    return row


async def insert_events(uow: TenantUnitOfWork, rows: Sequence[dict[str, Any]]) -> None:
    """Write events made by :func:`chained_event` (one statement)."""
    await uow.execute(_INSERT, rows)


async def record(
    uow: TenantUnitOfWork,
    action: str,
    resource_type: str,
    resource_id: str | None,
    *,
    meta: RequestMeta = NO_META,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event to the org's chain, inside ``uow``'s (write) transaction."""
    row = chained_event(
        await chain_head(uow),
        uow.org_id,
        uow.principal,
        action,
        resource_type,
        resource_id,
        meta=meta,
        outcome=outcome,
        details=details,
    )
    await uow.execute(_INSERT, row)


async def record_separately(
    store: Store,
    org_id: str,
    principal: Principal,
    action: str,
    resource_type: str,
    resource_id: str | None,
    *,
    meta: RequestMeta = NO_META,
    outcome: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Record an event in its own transaction (denied attempts, whose change rolled back)."""
    async with store.tenant(org_id, principal, write=True) as uow:
        await record(
            uow, action, resource_type, resource_id, meta=meta, outcome=outcome, details=details
        )


def event_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "seq": row.seq,
        "at": row.at,
        "actor": {"type": row.actor_type, "id": row.actor_id},
        "action": row.action,
        "resource": {"type": row.resource_type, "id": row.resource_id},
        "ip": row.ip,
        "userAgent": row.user_agent,
        "outcome": row.outcome,
        "details": row.details,
        "hash": row.hash,
        "prevHash": row.prev_hash,
    }


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    resource: str | None = None
    since: int | None = None
    until: int | None = None


async def list_events(
    uow: TenantUnitOfWork, filters: AuditFilter, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Audit events, newest first, filtered by action, actor id, resource and time."""
    ae = audit_events.c
    stmt = uow.select(audit_events)
    if filters.action:
        stmt = stmt.where(ae.action == filters.action)
    if filters.actor:
        stmt = stmt.where(ae.actor_id == filters.actor)
    if filters.resource:
        stmt = stmt.where(
            (ae.resource_id == filters.resource) | (ae.resource_type == filters.resource)
        )
    if filters.since is not None:
        stmt = stmt.where(ae.at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(ae.at <= filters.until)
    stmt = keyset(stmt, [ae.seq], cursor, limit, descending=True)
    rows = (await uow.execute(stmt)).all()
    return page(rows, limit, render=event_json, key=lambda r: [r.seq])


async def events_page(
    store: Store,
    org_id: str,
    principal: Principal,
    filters: AuditFilter,
    *,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """A page of the org's audit events (see :func:`list_events`)."""
    async with store.tenant(org_id, principal) as uow:
        return await list_events(uow, filters, limit=limit, cursor=cursor)


async def verify(store: Store, org_id: str, principal: Principal) -> dict[str, Any]:
    """The org's chain checked (see :func:`verify_chain`)."""
    async with store.tenant(org_id, principal) as uow:
        return await verify_chain(uow)


async def verify_chain(uow: TenantUnitOfWork, *, batch: int = 1000) -> dict[str, Any]:
    """Walk the org's chain in order: ``{ok, checked, firstBadSeq}``.

    A row is bad when its seq is not the next one (a row deleted or reordered), its
    ``prevHash`` is not the previous row's hash, or its hash does not match its content.
    """
    ae = audit_events.c
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    while True:
        rows = (
            await uow.execute(
                uow.select(audit_events).where(ae.seq >= expected_seq).order_by(ae.seq).limit(batch)
            )
        ).all()
        for row in rows:
            data = dict(row._mapping)
            if (
                row.seq != expected_seq
                or row.prev_hash != prev_hash
                or chain_hash(prev_hash, data) != row.hash
            ):
                return {"ok": False, "checked": checked, "firstBadSeq": expected_seq}
            checked += 1
            expected_seq += 1
            prev_hash = row.hash
        if len(rows) < batch:
            return {"ok": True, "checked": checked, "firstBadSeq": None}
