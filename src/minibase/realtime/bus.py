"""The event bus: one small interface, an in-process implementation for one instance.

Each committed transaction publishes its events here after commit; subscribers (live
queries, collab rooms, caches) receive every event of the deployment. The Redis
implementation fans events out across instances behind the same interface.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from minibase.realtime.events import Event

log = logging.getLogger("minibase.bus")

Subscriber = Callable[[Event], Awaitable[None]]


class EventBus(Protocol):
    """Publish committed events; deliver every event to every subscriber."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, events: Sequence[Event]) -> None: ...

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register ``subscriber``; return a function that unregisters it."""
        ...


class InProcessBus:
    """Delivers events to the subscribers of this process, in publication order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._subscribers.clear()

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            await self._deliver(event)

    async def _deliver(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                await subscriber(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event subscriber failed", extra={"kind": event.kind})

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe
