"""The run queue: claiming, leasing and releasing runs (a global table, ``owner_org``).

A claim takes the oldest available row whose lease has lapsed, and whose org has fewer
live leases than its plan allows, and leases it to one worker. On PostgreSQL the
candidate row is locked ``FOR UPDATE SKIP LOCKED``, so any number of workers on any
number of machines claim different rows without waiting on each other; on SQLite the
single writer serializes claims. Every write a worker makes for a run first checks
(:func:`hold`) that it still holds the lease, in the same transaction: a worker that lost
its lease (it stalled, another took the run over) can record nothing more, so no node's
completion is recorded twice.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Integer, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from minibase.store.tables import run_queue
from minibase.store.unit_of_work import TenantUnitOfWork, UnitOfWork, prepared_postgres

q = run_queue.c
_other = aliased(run_queue)

# A claim's two statements, built once: built per claim, their construction (and the
# compiled-statement cache's key of it) cost the worker more CPU than running them.
_busy = (
    select(func.count())
    .select_from(_other)
    .where(
        _other.c.owner_org == q.owner_org,
        _other.c.lease_expires_at > bindparam("now", type_=BigInteger()),
    )
    .scalar_subquery()
)
_CANDIDATES = (
    select(q.run_id, q.owner_org, q.max_concurrent, _busy.label("busy"))
    .where(
        q.available_at <= bindparam("now", type_=BigInteger()),
        q.lease_expires_at <= bindparam("now", type_=BigInteger()),
        or_(q.max_concurrent.is_(None), _busy < q.max_concurrent),
    )
    .order_by(q.available_at, q.run_id)
    .limit(bindparam("limit", type_=Integer()))
)
_CANDIDATES_PG = _CANDIDATES.with_for_update(skip_locked=True, of=run_queue)
_LEASE = (
    update(run_queue)
    .where(q.run_id.in_(bindparam("run_ids", expanding=True)))
    .values(
        lease_owner=bindparam("worker_id"),
        lease_expires_at=bindparam("expires", type_=BigInteger()),
        attempts=q.attempts + 1,
    )
    .returning(q.run_id, q.attempts)
)

_HELD = prepared_postgres(
    "SELECT run_id FROM run_queue WHERE owner_org = $1::text AND run_id = ANY($2::text[]) "
    "AND lease_owner = $3::text FOR SHARE",
    ["run_ids", "worker_id"],
)
""":func:`held` in an org's transaction on PostgreSQL, compiled once: built per call (its
``IN`` list expanded anew each time) it cost the run worker's transactions more CPU
than any other statement of theirs. Its runs are the org's (``owner_org``)."""


@dataclass(frozen=True, slots=True)
class Claim:
    run_id: str
    org_id: str
    attempts: int


async def enqueue(
    uow: UnitOfWork, run_id: str, org_id: str, *, now: int, max_concurrent: int | None
) -> None:
    await uow.execute(
        insert(run_queue).values(
            run_id=run_id,
            owner_org=org_id,
            available_at=now,
            lease_owner=None,
            lease_expires_at=0,
            attempts=0,
            max_concurrent=max_concurrent,
            created_at=now,
        )
    )


async def claim(uow: UnitOfWork, worker_id: str, *, now: int, lease_ms: int) -> Claim | None:
    """Lease the next runnable row to ``worker_id`` (``None`` when there is none)."""
    claims = await claim_many(uow, worker_id, now=now, lease_ms=lease_ms, limit=1)
    return claims[0] if claims else None


async def claim_many(
    uow: UnitOfWork, worker_id: str, *, now: int, lease_ms: int, limit: int
) -> list[Claim]:
    """Lease up to ``limit`` runnable rows to ``worker_id``, oldest first, in two
    statements whatever ``limit`` is (a worker with free slots fills them in one claim).

    An org's concurrency limit is kept exactly as a claim of one row keeps it: each
    candidate carries the count of its org's live leases, and candidates beyond the
    org's allowance (that count plus those taken before it in this claim) are left
    alone (their row locks go with the transaction)."""
    params = {"now": now, "limit": limit}
    rows = (await uow.execute(_CANDIDATES_PG if uow.is_postgres else _CANDIDATES, params)).all()
    taken: dict[str, int] = {}
    chosen: list[Any] = []
    for row in rows:
        count = taken.get(row.owner_org, 0)
        if row.max_concurrent is not None and row.busy + count >= row.max_concurrent:
            continue
        taken[row.owner_org] = count + 1
        chosen.append(row)
    if not chosen:
        return []
    leased = (
        await uow.execute(
            _LEASE,
            {
                "run_ids": [row.run_id for row in chosen],
                "worker_id": worker_id,
                "expires": now + lease_ms,
            },
        )
    ).all()
    attempts = {r.run_id: int(r.attempts) for r in leased}
    return [
        Claim(row.run_id, row.owner_org, attempts[row.run_id])
        for row in chosen
        if row.run_id in attempts
    ]


async def hold(uow: UnitOfWork, run_id: str, worker_id: str) -> bool:
    """Whether ``worker_id`` still holds ``run_id``'s lease; on PostgreSQL the row stays
    share-locked until the transaction ends, so no claim can take it meanwhile."""
    stmt = select(q.lease_owner).where(q.run_id == run_id)
    if uow.is_postgres:
        stmt = stmt.with_for_update(read=True)
    owner = (await uow.execute(stmt)).scalar_one_or_none()
    return bool(owner == worker_id)


async def held(uow: UnitOfWork, run_ids: Collection[str], worker_id: str) -> set[str]:
    """Which of ``run_ids`` ``worker_id`` still holds (:func:`hold` for many, one
    statement; on PostgreSQL the rows stay share-locked until the transaction ends)."""
    if not run_ids:
        return set()
    if uow.is_postgres and isinstance(uow, TenantUnitOfWork):
        params = {"run_ids": list(run_ids), "worker_id": worker_id}
        return {str(r.run_id) for r in (await uow.execute(_HELD, params)).all()}
    stmt = select(q.run_id).where(q.run_id.in_(list(run_ids)), q.lease_owner == worker_id)
    if uow.is_postgres:
        stmt = stmt.with_for_update(read=True)
    return {str(r) for r in (await uow.execute(stmt)).scalars()}


async def extend(uow: UnitOfWork, run_id: str, worker_id: str, *, now: int, lease_ms: int) -> bool:
    """Renew a lease; ``False`` when the worker no longer holds it."""
    result = await uow.execute(
        update(run_queue)
        .where(q.run_id == run_id, q.lease_owner == worker_id)
        .values(lease_expires_at=now + lease_ms)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release(uow: UnitOfWork, run_id: str) -> None:
    """Drop a run from the queue (finished, canceled, or gone)."""
    await uow.execute(delete(run_queue).where(q.run_id == run_id))


async def release_if_held(uow: UnitOfWork, run_id: str, worker_id: str) -> bool:
    result = await uow.execute(
        delete(run_queue).where(q.run_id == run_id, q.lease_owner == worker_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def running_count(uow: UnitOfWork, org_id: str, *, now: int) -> int:
    return int(
        (
            await uow.execute(
                select(func.count())
                .select_from(run_queue)
                .where(q.owner_org == org_id, q.lease_expires_at > now)
            )
        ).scalar_one()
    )


async def give_back(uow: UnitOfWork, worker_id: str) -> None:
    """Release every lease of a worker that is shutting down (others claim at once)."""
    await uow.execute(
        update(run_queue).where(q.lease_owner == worker_id).values(lease_expires_at=0)
    )
