"""The runs part of an org's usage (``GET /v1/orgs/{orgId}/usage``, ``usage.get``):
runs and compute milliseconds this month (UTC), runs in the last minute and at once,
against the plan's run limits (``services/run_limits.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func

from minibase.ids import now_ms
from minibase.services.run_limits import run_limits
from minibase.store.tables import runs
from minibase.store.unit_of_work import TenantUnitOfWork


def month_start(now: int) -> int:
    day = datetime.fromtimestamp(now / 1000, tz=UTC)
    return int(day.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)


async def run_usage(uow: TenantUnitOfWork, plan: str) -> dict[str, Any]:
    """``{month, runs, computeMs, lastMinute, perMinuteLimit, running, queued,
    concurrentLimit}`` (limits ``null``: unlimited)."""
    now = now_ms()
    start = month_start(now)
    r = runs.c
    totals: Any = (
        await uow.execute(
            uow.select(
                runs,
                func.count(),
                func.coalesce(func.sum(r.compute_ms), 0.0),
                func.coalesce(func.sum(case((r.created_at > now - 60_000, 1), else_=0)), 0),
            ).where(r.created_at >= start)
        )
    ).one()
    state_rows: Any = (
        await uow.execute(
            uow.select(runs, r.status, func.count())
            .where(r.status.in_(("queued", "running")))
            .group_by(r.status)
        )
    ).all()
    states: dict[str, int] = {str(row[0]): int(row[1]) for row in state_rows}
    limits = run_limits(plan)
    return {
        "month": datetime.fromtimestamp(start / 1000, tz=UTC).strftime("%Y-%m"),
        "runs": int(totals[0]),
        "computeMs": round(float(totals[1]), 3),
        "lastMinute": int(totals[2]),
        "perMinuteLimit": limits.per_minute,
        "running": int(states.get("running", 0)),
        "queued": int(states.get("queued", 0)),
        "concurrentLimit": limits.concurrent,
    }
