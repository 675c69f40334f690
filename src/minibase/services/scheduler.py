"""The scheduler loop: fires due schedules (``services/schedules.py``).

Every server and worker runs one; the timers' row locks make each fire time start one
run however many run. It sleeps until the soonest timer (at most
``MINIBASE_SCHEDULE_POLL_SECONDS``, so timers set by other instances are seen), and wakes
early when a schedule of this deployment changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from minibase.domain.events import Event, EventBus, EventKind
from minibase.domain.principal import SYSTEM
from minibase.engine.registry import NodeRegistry
from minibase.ids import now_ms
from minibase.services.schedules import fire_due
from minibase.services.waiting import wait_event
from minibase.store import schedule_timers
from minibase.store.unit_of_work import Store

log = logging.getLogger("minibase.engine")

MIN_SLEEP = 0.02
"""Seconds between two passes at least (a due timer another scheduler holds stays due
until that scheduler commits)."""


class Scheduler:
    def __init__(
        self, store: Store, registry: NodeRegistry, *, poll_seconds: float, bus: EventBus | None
    ) -> None:
        self.store = store
        self.registry = registry
        self.poll_seconds = poll_seconds
        self._bus = bus
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._stopping = False

    async def start(self) -> None:
        if self._bus is not None:
            self._unsubscribe = self._bus.subscribe(self._on_event)
        self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        # A cancel that lands inside a database call can come out as the driver's error,
        # which the loop survives: the flag ends it all the same.
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _on_event(self, event: Event) -> None:
        if event.kind == EventKind.SCHEDULES:
            self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            delay = self.poll_seconds
            try:
                await fire_due(self.store, self.registry, now=now_ms())
                async with self.store.global_(SYSTEM) as uow:
                    soonest = await schedule_timers.earliest(uow)
                if soonest is not None:
                    delay = min(delay, max(MIN_SLEEP, (soonest - now_ms()) / 1000))
            except Exception:
                log.warning("firing schedules failed", exc_info=True)
            await wait_event(self._wake, delay)
            self._wake.clear()
