"""Quota warnings at 80 %, 95 % and 100 %: each crossing notifies the org's admins once.

Usage counters change on many write paths (saves, outputs, runs, the collab log), so
this does not sit in any of them: :class:`QuotaAlerts` hears the events those writes
publish (``usage``, ``flow``, ``outputs``, ``runs``, ``collab.update``, ``org`` for a
changed limit), marks the org, and one worker checks marked orgs in turn. A check reads
the org's counters and limits and the last threshold reported per quota
(``quota_alerts``); only when they differ does it open a write transaction, read both
again under the org's write lock and record the new threshold together with the
``quota_warning`` notifications. Every instance hears every event, but writers of one
org are serialized and the second finds the threshold already recorded: one
notification per crossing, however many instances run.

Going up past one or more thresholds notifies once, at the highest; going down records
the lower threshold silently, so crossing up again notifies again.

One org is checked at most every :data:`MIN_CHECK_INTERVAL` seconds: a busy live flow
publishes ``collab.update`` for every batch it stores (hundreds a second), and reading
the org's counters for each of them cost as much as storing the batches. An org marked
again within the interval is checked once when it ends, so a crossing is still noticed,
at most that much later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from minibase.domain.events import Event, EventKind
from minibase.domain.principal import SYSTEM
from minibase.domain.roles import Role
from minibase.errors import NotFound
from minibase.ids import now_ms
from minibase.services.notifications import NotificationKind, notify
from minibase.services.orgs import load_org
from minibase.services.usage import limits_of, usage_of
from minibase.services.waiting import wait_event
from minibase.store.tables import memberships, quota_alerts
from minibase.store.unit_of_work import Store, TenantUnitOfWork

log = logging.getLogger("minibase.quota_alerts")

MIN_CHECK_INTERVAL = 0.25
"""Seconds between two checks of one org (see the module docstring)."""

THRESHOLDS = (80, 95, 100)
LEVEL_NAMES = {80: "warning", 95: "critical", 100: "reached"}
WATCHED = frozenset(
    {
        EventKind.USAGE,
        EventKind.FLOW,
        EventKind.OUTPUTS,
        EventKind.RUNS,
        EventKind.COLLAB_UPDATE,
        EventKind.ORG,
        EventKind.TEMPLATES,
    }
)


def threshold(used: int, limit: int | None) -> int:
    """The highest threshold ``used`` has reached (0 below 80 %, or without a limit)."""
    if limit is None:
        return 0
    if limit == 0:
        return 100 if used > 0 else 0
    percent = used * 100 / limit
    return max((t for t in THRESHOLDS if percent >= t), default=0)


def current_levels(org: Any) -> dict[str, tuple[int, int, int | None]]:
    """``quota → (threshold, used, limit)`` for the org row."""
    usage, limits = usage_of(org), limits_of(org)
    out: dict[str, tuple[int, int, int | None]] = {}
    for quota, used, limit in (
        ("maxFlows", usage.flows, limits.max_flows),
        ("maxNodes", usage.nodes, limits.max_nodes),
        ("storageQuota", usage.storage, limits.storage_quota),
    ):
        out[quota] = (threshold(used, limit), used, limit)
    return out


async def _recorded(uow: TenantUnitOfWork) -> dict[str, int]:
    rows = (await uow.execute(uow.select(quota_alerts))).all()
    return {row.quota: row.level for row in rows}


def _changes(org: Any, recorded: dict[str, int]) -> dict[str, tuple[int, int, int | None]]:
    return {
        quota: now for quota, now in current_levels(org).items() if now[0] != recorded.get(quota, 0)
    }


async def check_org(store: Store, org_id: str) -> int:
    """Record and notify the org's threshold crossings; the notifications made."""
    try:
        async with store.tenant(org_id, SYSTEM) as uow:
            if not _changes(await load_org(uow), await _recorded(uow)):
                return 0
        async with store.tenant(org_id, SYSTEM, write=True) as uow:
            return await _apply(uow)
    except NotFound:  # the org was deleted meanwhile
        return 0


async def _apply(uow: TenantUnitOfWork) -> int:
    org = await load_org(uow)
    recorded = await _recorded(uow)
    sent = 0
    now = now_ms()
    for quota, (level, used, limit) in _changes(org, recorded).items():
        if quota in recorded:
            await uow.execute(
                uow.update(quota_alerts)
                .where(quota_alerts.c.quota == quota)
                .values(level=level, updated_at=now)
            )
        else:
            await uow.execute(uow.insert(quota_alerts, quota=quota, level=level, updated_at=now))
        if level > recorded.get(quota, 0):
            admins = (
                await uow.execute(
                    uow.select(memberships, memberships.c.user_id).where(
                        memberships.c.role == Role.ADMIN.value
                    )
                )
            ).scalars()
            warning = {
                "quota": quota,
                "level": LEVEL_NAMES[level],
                "percent": level,
                "used": used,
                "limit": limit,
            }
            await notify(
                uow,
                list(admins),
                NotificationKind.QUOTA_WARNING,
                {"organizationName": org.name, **warning},
                org_id=uow.org_id,
            )
            uow.emit(Event(uow.org_id, EventKind.QUOTA_WARNING, (quota,), extra=warning))
            sent += 1
    return sent


class QuotaAlerts:
    """Checks the orgs whose usage may have moved (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._dirty: dict[str, None] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._checked_at: dict[str, float] = {}
        """Event-loop time of each org's last check, for those checked within the interval."""

    def start(self) -> None:
        """Start checking (subscribe :meth:`on_event` to the bus as well)."""
        self._task = asyncio.create_task(self._loop(), name="quota-alerts")

    async def close(self) -> None:
        """Stop between checks (a transaction cut by cancellation would lose its
        connection), or cancel after a few seconds."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=5)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def on_event(self, event: Event) -> None:
        if event.kind in WATCHED and event.org_id != "*":
            self._dirty[event.org_id] = None
            self._idle.clear()
            self._wake.set()

    async def settle(self) -> None:
        """Wait until every org marked so far has been checked."""
        await self._idle.wait()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty and not self._closing:
                now = loop.time()
                org_id = self._next_due(now)
                if org_id is None:  # every marked org was checked a moment ago
                    wait = min(self._checked_at[o] for o in self._dirty) + MIN_CHECK_INTERVAL
                    await wait_event(self._wake, wait - now)
                    self._wake.clear()
                    continue
                del self._dirty[org_id]
                self._checked_at[org_id] = now
                try:
                    await check_org(self.store, org_id)
                except (OSError, RuntimeError) as exc:  # the database went away
                    log.warning("quota check of %s failed: %s", org_id, exc)
            if self._closing:
                return
            if not self._dirty:
                self._idle.set()

    def _next_due(self, now: float) -> str | None:
        """The first marked org whose last check is older than the interval."""
        since = now - MIN_CHECK_INTERVAL
        for org_id, checked in list(self._checked_at.items()):
            if checked <= since:
                del self._checked_at[org_id]  # forgotten: only recent checks are kept
        return next((o for o in self._dirty if o not in self._checked_at), None)
