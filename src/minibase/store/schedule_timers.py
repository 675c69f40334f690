"""Schedule timers: the next fire time of each enabled schedule (a global table).

A scheduler reads the due timers, then fires each in a transaction of its org that first
locks the timer (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; the single writer on SQLite)
and re-checks it is still due: of several schedulers, exactly one fires a given time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update

from minibase.store.tables import schedule_timers
from minibase.store.unit_of_work import UnitOfWork

t = schedule_timers.c


@dataclass(frozen=True, slots=True)
class Timer:
    schedule_id: str
    org_id: str
    next_fire_at: int


async def due(uow: UnitOfWork, *, now: int, limit: int = 100) -> list[Timer]:
    rows = (
        await uow.execute(
            select(t.schedule_id, t.owner_org, t.next_fire_at)
            .where(t.next_fire_at <= now)
            .order_by(t.next_fire_at)
            .limit(limit)
        )
    ).all()
    return [Timer(r.schedule_id, r.owner_org, r.next_fire_at) for r in rows]


async def lock_due(uow: UnitOfWork, schedule_id: str, *, now: int) -> int | None:
    """The timer's fire time if it is still due and no one else holds it (locked until
    the transaction ends), else ``None``."""
    stmt = select(t.next_fire_at).where(t.schedule_id == schedule_id, t.next_fire_at <= now)
    if uow.is_postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    value = (await uow.execute(stmt)).scalar_one_or_none()
    return None if value is None else int(value)


async def put(uow: UnitOfWork, schedule_id: str, org_id: str, next_fire_at: int | None) -> None:
    """Set (or, with ``None``, remove) a schedule's timer."""
    if next_fire_at is None:
        await uow.execute(delete(schedule_timers).where(t.schedule_id == schedule_id))
        return
    updated = await uow.execute(
        update(schedule_timers)
        .where(t.schedule_id == schedule_id)
        .values(next_fire_at=next_fire_at)
    )
    if not updated.rowcount:  # type: ignore[attr-defined]
        await uow.execute(
            insert(schedule_timers).values(
                schedule_id=schedule_id, owner_org=org_id, next_fire_at=next_fire_at
            )
        )


async def earliest(uow: UnitOfWork) -> int | None:
    """The soonest fire time of any schedule."""
    value = (await uow.execute(select(func.min(t.next_fire_at)))).scalar_one_or_none()
    return None if value is None else int(value)
