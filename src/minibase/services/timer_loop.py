"""A loop over timers kept in the database: run a pass, sleep until the soonest timer.

The scheduler (``services/scheduler.py``) and the event-webhook deliverer
(``services/event_delivery.py``) both keep their work as timer rows that any number of
instances share (row locks make each piece happen once). Each runs one
:class:`TimerLoop`: a pass does what is due, then the loop sleeps until the soonest timer
(at most ``poll_seconds``, so timers written by other instances are seen) and wakes
early when this process hears an event that may have set a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from minibase.domain.events import Event, EventBus, EventKind
from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.services.waiting import wait_event
from minibase.store.unit_of_work import GlobalUnitOfWork, Store

MIN_SLEEP = 0.02
"""Seconds between two passes at least (a due timer another instance holds stays due
until that instance commits)."""


class TimerLoop:
    """One background loop; subclasses say what a pass does and when the next is due."""

    name = "timer-loop"
    """The task's name."""
    wake_on: frozenset[EventKind] = frozenset()
    """Event kinds that may have set a timer: the loop runs a pass at once."""
    log = logging.getLogger("minibase")
    failure = "timer pass failed"
    """Logged (with the traceback) when a pass fails; the loop goes on."""

    def __init__(
        self, store: Store, bus: EventBus | None, *, poll_seconds: float, close_grace: float = 0
    ) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self._close_grace = close_grace
        self._bus = bus
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.stopping = False
        """Set by :meth:`close`: a long pass may check it to stop between its steps."""

    async def run_pass(self) -> None:
        """Do what is due now."""
        raise NotImplementedError

    async def soonest(self, uow: GlobalUnitOfWork) -> int | None:
        """When the next timer is due (ms since the epoch), or None for none."""
        raise NotImplementedError

    async def start(self) -> None:
        if self._bus is not None:
            self._unsubscribe = self._bus.subscribe(self._on_event)
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def close(self) -> None:
        """Stop; with a grace, a pass in flight may finish first (and record its outcome)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        # A cancel that lands inside a database call can come out as the driver's error,
        # which the loop survives: the flag ends it all the same.
        self.stopping = True
        self._wake.set()
        if self._task is None:
            return
        if self._close_grace:
            await asyncio.wait([self._task], timeout=self._close_grace)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _on_event(self, event: Event) -> None:
        if event.kind in self.wake_on:
            self._wake.set()

    async def _loop(self) -> None:
        while not self.stopping:
            delay = self.poll_seconds
            try:
                await self.run_pass()
                async with self.store.global_(SYSTEM) as uow:
                    soonest = await self.soonest(uow)
                if soonest is not None:
                    delay = min(delay, max(MIN_SLEEP, (soonest - now_ms()) / 1000))
            except Exception:
                self.log.warning(self.failure, exc_info=True)
            await wait_event(self._wake, delay)
            self._wake.clear()
