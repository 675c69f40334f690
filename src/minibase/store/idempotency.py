"""The ``idempotency_records`` table: claims, stored answers, expiry.

A record is keyed by ``(principal_id, key)`` (both hashes, computed by the service). A
placeholder (``status = 0``) marks a request in flight; a completed record holds the
answer's status, a few headers and the sealed body. Every statement of the table is here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from minibase.domain.principal import SYSTEM
from minibase.store.tables import idempotency_records
from minibase.store.unit_of_work import Store

IN_FLIGHT = 0
"""The status of a placeholder."""


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    request_hash: str
    status: int
    """``IN_FLIGHT`` for a placeholder."""
    headers: list[tuple[str, str]]
    body: bytes
    """The sealed answer body."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What :meth:`IdempotencyRecords.claim` found: ``claimed``, or the existing record."""

    claimed: bool
    existing: IdempotencyRecord | None = None
    """``None`` with ``claimed`` false: a concurrent duplicate inserted it first."""


class IdempotencyRecords:
    """The statements of ``idempotency_records``, each in its own global transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def claim(
        self,
        principal_id: str,
        key: str,
        request_hash: str,
        *,
        now: int,
        expired_before: int,
        abandoned_before: int,
        sweep: bool,
    ) -> Claim:
        """Insert a placeholder for ``(principal_id, key)`` unless a live record exists.

        A record created before ``expired_before``, or a placeholder created before
        ``abandoned_before`` (its instance died mid-request), is replaced. With ``sweep``,
        every expired record of the table is deleted first.
        """
        t = idempotency_records
        where = (t.c.principal_id == principal_id, t.c.key == key)
        async with self._store.global_(SYSTEM, write=True) as uow:
            if sweep:
                await uow.execute(delete(t).where(t.c.created_at < expired_before))
            row = (await uow.execute(select(t).where(*where))).first()
            if row is not None and (
                row.created_at < expired_before
                or (row.status == IN_FLIGHT and row.created_at < abandoned_before)
            ):
                await uow.execute(delete(t).where(*where))
                row = None
            if row is not None:
                meta: dict[str, Any] = row.headers or {}
                headers = [(str(k), str(v)) for k, v in meta.get("headers", [])]
                return Claim(
                    False, IdempotencyRecord(row.request_hash, row.status, headers, row.body)
                )
            insert = pg_insert if uow.is_postgres else sqlite_insert
            inserted = (
                await uow.execute(
                    insert(t)
                    .values(
                        principal_id=principal_id,
                        key=key,
                        request_hash=request_hash,
                        status=IN_FLIGHT,
                        headers={},
                        body=b"",
                        created_at=now,
                    )
                    .on_conflict_do_nothing()
                    .returning(t.c.key)
                )
            ).first()
            return Claim(inserted is not None)

    async def complete(
        self,
        principal_id: str,
        key: str,
        *,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        """Store the answer of the claimed request."""
        t = idempotency_records
        async with self._store.global_(SYSTEM, write=True) as uow:
            await uow.execute(
                update(t)
                .where(t.c.principal_id == principal_id, t.c.key == key)
                .values(status=status, headers={"headers": [list(h) for h in headers]}, body=body)
            )

    async def release(self, principal_id: str, key: str) -> None:
        """Remove the placeholder, so a retry runs the request again."""
        t = idempotency_records
        async with self._store.global_(SYSTEM, write=True) as uow:
            await uow.execute(
                delete(t).where(
                    t.c.principal_id == principal_id, t.c.key == key, t.c.status == IN_FLIGHT
                )
            )
