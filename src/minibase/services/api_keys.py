"""API keys: org-bound credentials with one role, for scripts and servers.

The key (``mb_key_`` + 256 random bits) is returned once and stored only as its SHA-256.
Revocation takes effect on the next request: credentials are resolved without a cache.
"""

from __future__ import annotations

from typing import Any

from minibase.auth.credentials import API_KEY_PREFIX
from minibase.domain.events import Event, EventKind
from minibase.domain.principal import Principal
from minibase.domain.roles import Role
from minibase.errors import NotFound
from minibase.ids import hash_token, new_id, new_token, now_ms
from minibase.services import audit
from minibase.services.audit import RequestMeta
from minibase.services.pagination import keyset, page
from minibase.store.tables import api_keys
from minibase.store.unit_of_work import Store


def api_key_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "createdBy": row.created_by,
        "createdAt": row.created_at,
        "lastUsedAt": row.last_used_at,
    }


async def create_api_key(
    store: Store, org_id: str, principal: Principal, name: str, role: Role, meta: RequestMeta
) -> dict[str, Any]:
    key = new_token(API_KEY_PREFIX)
    key_id = new_id("key")
    now = now_ms()
    async with store.tenant(org_id, principal, write=True) as uow:
        await uow.execute(
            uow.insert(
                api_keys,
                id=key_id,
                name=name,
                role=role.value,
                key_hash=hash_token(key),
                created_by=principal.id,
                created_at=now,
            )
        )
        await audit.record(
            uow,
            "api_key.create",
            "api_key",
            key_id,
            meta=meta,
            details={"name": name, "role": role.value},
        )
    return {
        "id": key_id,
        "name": name,
        "role": role.value,
        "key": key,
        "createdAt": now,
        "lastUsedAt": None,
    }


async def list_api_keys(
    store: Store, org_id: str, principal: Principal, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Keys not revoked, oldest first, never the keys themselves."""
    async with store.tenant(org_id, principal) as uow:
        stmt = keyset(
            uow.select(api_keys).where(api_keys.c.revoked_at.is_(None)),
            [api_keys.c.created_at, api_keys.c.id],
            cursor,
            limit,
        )
        rows = (await uow.execute(stmt)).all()
    return page(rows, limit, render=api_key_json, key=lambda r: [r.created_at, r.id])


async def revoke_api_key(
    store: Store, org_id: str, principal: Principal, key_id: str, meta: RequestMeta
) -> None:
    async with store.tenant(org_id, principal, write=True) as uow:
        result = await uow.execute(
            uow.update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now_ms())
            .returning(api_keys.c.id)
        )
        if result.first() is None:
            raise NotFound("No such API key.")
        # Sockets opened with this key close (4401) when they see this event.
        uow.emit(Event(uow.org_id, EventKind.CREDENTIALS, (key_id,), extra={"type": "api_key"}))
        await audit.record(uow, "api_key.revoke", "api_key", key_id, meta=meta)
