"""The tamper-evident audit log: one hash-chained row per event, per organization.

``hash = sha256(prev_hash || canonical_event)`` where the canonical event is the sorted-key
JSON of every stored field but the hashes. Rows are written inside the transaction of the
change they record (callers pass their unit of work), so a rolled-back change leaves no
row and a committed one always has its row.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson

from minibase.domain.principal import Principal
from minibase.ids import new_id, now_ms
from minibase.store.tables import audit_events
from minibase.store.unit_of_work import Store, TenantUnitOfWork

GENESIS_HASH = "0" * 64
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
    last = (
        await uow.execute(
            uow.select(audit_events, audit_events.c.seq, audit_events.c.hash)
            .order_by(audit_events.c.seq.desc())
            .limit(1)
        )
    ).first()
    seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS_HASH)
    actor_type, actor_id = actor_of(uow.principal)
    row: dict[str, Any] = {
        "organization_id": uow.org_id,
        "seq": seq,
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
    row["prev_hash"] = prev_hash
    row["hash"] = chain_hash(prev_hash, row)
    values = {k: v for k, v in row.items() if k != "organization_id"}
    await uow.execute(uow.insert(audit_events, **values))


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
