"""Lookups that must find a row before its organization is known (credentials by hash).

On PostgreSQL they go through ``SECURITY DEFINER`` functions that return only the row
matching one secret hash; row-level security stays on for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text

from minibase.store.tables import api_keys, invitations
from minibase.store.unit_of_work import GlobalUnitOfWork


@dataclass(frozen=True, slots=True)
class ApiKeyRef:
    organization_id: str
    id: str
    role: str
    revoked_at: int | None
    last_used_at: int | None


async def find_api_key(uow: GlobalUnitOfWork, key_hash: str) -> ApiKeyRef | None:
    if uow.is_postgres:
        row = (
            await uow.execute(text("SELECT * FROM minibase_find_api_key(:h)"), {"h": key_hash})
        ).first()
    else:
        row = (
            await uow.find_by_secret(
                select(
                    api_keys.c.organization_id,
                    api_keys.c.id,
                    api_keys.c.role,
                    api_keys.c.revoked_at,
                    api_keys.c.last_used_at,
                ).where(api_keys.c.key_hash == key_hash)
            )
        ).first()
    if row is None:
        return None
    return ApiKeyRef(row.organization_id, row.id, row.role, row.revoked_at, row.last_used_at)


async def find_invitation_org(uow: GlobalUnitOfWork, token_hash: str) -> tuple[str, str] | None:
    """``(organization_id, invitation_id)`` of the invitation with this token hash."""
    if uow.is_postgres:
        row = (
            await uow.execute(text("SELECT * FROM minibase_find_invitation(:h)"), {"h": token_hash})
        ).first()
    else:
        row = (
            await uow.find_by_secret(
                select(invitations.c.organization_id, invitations.c.id).where(
                    invitations.c.token_hash == token_hash
                )
            )
        ).first()
    return None if row is None else (row.organization_id, row.id)
