"""Brute-force protection for login and signup, shared by every instance (in the database).

Each bucket (``login:acct:<sha256(email)>``, ``login:ip:<address>``, ...) counts failures
in a fixed window of ``login_window_seconds``. The failure that reaches the bucket's limit
blocks it for one window; while blocked, attempts get 429 ``rate_limited`` with
``Retry-After`` without the password even being checked, and they do not extend the block
(so there is never a permanent lockout). A successful login clears its account's bucket.

Unknown emails are counted like known ones, so the limiter reveals nothing either.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from minibase.domain.principal import SYSTEM
from minibase.errors import RateLimited
from minibase.ids import now_ms
from minibase.store.tables import rate_limit_hits
from minibase.store.unit_of_work import GlobalUnitOfWork, Store

_SWEEP_INTERVAL_MS = 60_000
_last_sweep = [0]  # when this process last deleted stale rows (housekeeping only)


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    limit: int


def account_bucket(kind: str, email: str, limit: int) -> Bucket:
    digest = hashlib.sha256(email.encode("utf-8")).hexdigest()
    return Bucket(f"{kind}:acct:{digest}", limit)


def address_bucket(kind: str, ip: str | None, limit: int) -> Bucket:
    return Bucket(f"{kind}:ip:{ip or 'unknown'}", limit)


class LoginLimiter:
    """Failure counters in ``rate_limit_hits`` (one row per bucket)."""

    def __init__(self, store: Store, window_seconds: int) -> None:
        self.store = store
        self.window_ms = window_seconds * 1000

    async def check(self, *buckets: Bucket) -> None:
        """Raise :class:`RateLimited` when any bucket is blocked now."""
        now = now_ms()
        async with self.store.global_(SYSTEM) as uow:
            rows = (
                await uow.execute(
                    select(rate_limit_hits.c.blocked_until).where(
                        rate_limit_hits.c.bucket.in_([b.name for b in buckets]),
                        rate_limit_hits.c.blocked_until > now,
                    )
                )
            ).scalars()
            until = max(rows, default=0)
        if until > now:
            raise RateLimited(
                math.ceil((until - now) / 1000),
                "Too many failed attempts; retry later.",
            )

    async def failed(self, *buckets: Bucket) -> None:
        """Count one failure in each bucket, blocking those that reach their limit."""
        now = now_ms()
        async with self.store.global_(SYSTEM, write=True) as uow:
            for bucket in buckets:
                await self._count(uow, bucket, now)
            if now - _last_sweep[0] > _SWEEP_INTERVAL_MS:
                _last_sweep[0] = now
                await uow.execute(
                    delete(rate_limit_hits).where(
                        rate_limit_hits.c.window_start < now - 2 * self.window_ms,
                        rate_limit_hits.c.blocked_until < now,
                    )
                )

    async def _count(self, uow: GlobalUnitOfWork, bucket: Bucket, now: int) -> None:
        insert = pg_insert if uow.is_postgres else sqlite_insert
        await uow.execute(
            insert(rate_limit_hits)
            .values(bucket=bucket.name, window_start=now, count=0, blocked_until=0)
            .on_conflict_do_nothing(index_elements=["bucket"])
        )
        row = (
            await uow.execute(
                select(
                    rate_limit_hits.c.window_start,
                    rate_limit_hits.c.blocked_until,
                    rate_limit_hits.c.count,
                )
                .where(rate_limit_hits.c.bucket == bucket.name)
                .with_for_update()
            )
        ).one()
        if now - row.window_start >= self.window_ms:
            window_start, count = now, 1
        else:
            window_start, count = row.window_start, int(row._mapping["count"]) + 1
        blocked_until = row.blocked_until
        if count >= bucket.limit and blocked_until <= now:
            blocked_until = now + self.window_ms
            window_start, count = now, 0
        await uow.execute(
            update(rate_limit_hits)
            .where(rate_limit_hits.c.bucket == bucket.name)
            .values(window_start=window_start, count=count, blocked_until=blocked_until)
        )

    async def succeeded(self, bucket: Bucket) -> None:
        """Forget the failures of ``bucket`` (a successful login of that account)."""
        async with self.store.global_(SYSTEM, write=True) as uow:
            await uow.execute(
                delete(rate_limit_hits).where(rate_limit_hits.c.bucket == bucket.name)
            )
