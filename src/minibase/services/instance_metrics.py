"""Figures of the whole deployment read from the database for ``/metrics``."""

from __future__ import annotations

from sqlalchemy import case, func, select

from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.store.tables import run_queue
from minibase.store.unit_of_work import Store


async def run_counts(store: Store) -> dict[str, int]:
    """Runs waiting for a worker (``queued``) and held by one (``running``), across orgs."""
    q = run_queue.c
    leased = (q.lease_owner.is_not(None)) & (q.lease_expires_at >= now_ms())
    async with store.global_(SYSTEM) as uow:
        row = (
            await uow.execute(
                select(
                    func.count().label("total"),
                    func.sum(case((leased, 1), else_=0)).label("running"),
                ).select_from(run_queue)
            )
        ).one()
    running = int(row.running or 0)
    return {"queued": int(row.total) - running, "running": running}
