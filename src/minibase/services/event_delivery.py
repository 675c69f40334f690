"""The delivery loop of event webhooks (``services/event_webhooks.py``).

Every server and worker runs one; the timers' row locks (and leases) make each attempt
happen once however many run. It sleeps until the soonest timer (at most
``MINIBASE_WEBHOOK_POLL_SECONDS``, so deliveries recorded by other instances are seen),
and wakes early when this process hears an event that recorded deliveries: one that
stands for a webhook event (a run's end, not each batch of its node records, which
would cost a read of the timers per batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from minibase.config import Settings
from minibase.domain.events import Event, EventBus
from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.services.event_webhooks import deliver_due, earliest, webhook_events
from minibase.services.waiting import wait_event
from minibase.store.unit_of_work import Store

log = logging.getLogger("minibase.webhooks")

MIN_SLEEP = 0.02


class EventDeliverer:
    def __init__(self, store: Store, settings: Settings, bus: EventBus | None) -> None:
        self.store = store
        self.settings = settings
        self._bus = bus
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._stopping = False

    async def start(self) -> None:
        if self._bus is not None:
            self._unsubscribe = self._bus.subscribe(self._on_event)
        self._task = asyncio.create_task(self._loop(), name="event-webhooks")

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        # Stop between passes: an attempt in flight ends (within its timeout) and records
        # its outcome, rather than leave its delivery leased until the lease lapses.
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=self.settings.webhook_timeout_seconds + 2)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _on_event(self, event: Event) -> None:
        # Deliveries are recorded for these events only (record_deliveries).
        if webhook_events(event):
            self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            delay = self.settings.webhook_poll_seconds
            try:
                await deliver_due(self.store, self.settings, stopping=lambda: self._stopping)
                async with self.store.global_(SYSTEM) as uow:
                    soonest = await earliest(uow)
                if soonest is not None:
                    delay = min(delay, max(MIN_SLEEP, (soonest - now_ms()) / 1000))
            except Exception:
                log.warning("delivering event webhooks failed", exc_info=True)
            await wait_event(self._wake, delay)
            self._wake.clear()
