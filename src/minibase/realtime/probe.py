"""The bus's lag, measured: a marker event published and timed until it comes back."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from minibase.domain.events import ALL_ORGS, Event, EventBus, EventKind

PROBE_TIMEOUT = 1.0


class BusProbe:
    """Sends a ``probe`` event through ``bus`` and times its delivery back to this
    instance (through Redis, when the bus is Redis): the delay every subscriber sees."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._waiting: dict[str, asyncio.Future[float]] = {}
        self._unsubscribe: Any = bus.subscribe(self._on_event)

    async def _on_event(self, event: Event) -> None:
        if event.kind == EventKind.PROBE:
            for marker in event.ids:
                future = self._waiting.get(marker)
                if future is not None and not future.done():
                    future.set_result(time.perf_counter())

    async def lag(self) -> float | None:
        """Seconds for a marker to come back; ``None`` when it did not within a second."""
        marker = "probe-" + secrets.token_hex(6)
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[marker] = future
        started = time.perf_counter()
        try:
            await self.bus.publish([Event(ALL_ORGS, EventKind.PROBE, (marker,))])
            arrived = await asyncio.wait_for(future, PROBE_TIMEOUT)
        except TimeoutError:
            return None
        finally:
            del self._waiting[marker]
        return arrived - started
