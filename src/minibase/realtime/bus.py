"""The event bus: one small interface (:class:`minibase.domain.events.EventBus`); this
module holds what every bus shares.

Each committed transaction publishes its events here after commit; subscribers (live
queries, collab rooms, caches) receive every event of the deployment, each exactly once
and in publication order per publisher. :class:`InProcessBus` serves one process;
:class:`minibase.realtime.redis_bus.RedisBus` fans events out across instances behind
the same interface. Both deliver through :class:`FanoutBus`: a subscriber registry and
one task per bus that calls the subscribers, so ``publish`` never waits for them.

When events may have been lost, subscribers receive the resync signal instead
(:func:`minibase.domain.events.resync`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from minibase.domain.events import Event, Subscriber, resync
from minibase.logs import detached

log = logging.getLogger("minibase.bus")

DEFAULT_MAX_PENDING = 10_000
SLOW_SUBSCRIBER_SECONDS = 1.0


class FanoutBus:
    """The subscribers of this process and the one task that calls them, in order.

    Events wait in a bounded queue; a subscriber that raises is logged and the others
    still receive the event. When the queue is full (subscribers far behind), the waiting
    events are dropped and replaced by one resync signal.
    """

    def __init__(self, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._subscribers: dict[int, Subscriber] = {}
        self._ids = itertools.count()
        self._pending: asyncio.Queue[Event] = asyncio.Queue(maxsize=max_pending)
        self._delivery: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        if self._delivery is None:
            self._delivery = background(self._deliver_forever(), f"{type(self).__name__}.deliver")

    async def close(self) -> None:
        """Stop delivering; events still waiting are dropped, later ones ignored."""
        self._closed = True
        task, self._delivery = self._delivery, None
        if task is not None:
            await cancel_and_wait(task)
        self._subscribers.clear()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        key = next(self._ids)
        self._subscribers[key] = subscriber

        def unsubscribe() -> None:
            self._subscribers.pop(key, None)

        return unsubscribe

    def _deliver_later(self, event: Event) -> None:
        """Queue ``event`` for the subscribers of this process; never blocks."""
        if self._closed:
            return
        try:
            self._pending.put_nowait(event)
        except asyncio.QueueFull:
            dropped = self._pending.qsize() + 1
            while not self._pending.empty():
                self._pending.get_nowait()
            log.warning(
                "event subscribers are too slow; dropped waiting events, sending resync",
                extra={"dropped": dropped},
            )
            self._pending.put_nowait(resync("overflow"))

    async def _deliver_forever(self) -> None:
        while True:
            event = await self._pending.get()
            for key, subscriber in list(self._subscribers.items()):
                if key in self._subscribers:  # not unsubscribed by an earlier one
                    await self._call(subscriber, event)

    async def _call(self, subscriber: Subscriber, event: Event) -> None:
        started = time.perf_counter()
        try:
            await subscriber(event)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the bus is closing
            log.exception("event subscriber was cancelled", extra={"kind": event.kind})
        except Exception:
            log.exception("event subscriber failed", extra={"kind": event.kind})
        elapsed = time.perf_counter() - started
        if elapsed > SLOW_SUBSCRIBER_SECONDS:
            log.warning(
                "slow event subscriber",
                extra={"kind": event.kind, "seconds": round(elapsed, 3)},
            )


class InProcessBus(FanoutBus):
    """Delivers events to the subscribers of this process, in publication order."""

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            self._deliver_later(event)


def background(work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """Run ``work`` as a task of the bus; a crash (a bug) is logged when it happens."""
    task = asyncio.create_task(work, name=name, context=detached())
    task.add_done_callback(_log_crash)
    return task


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("event bus task %s crashed", task.get_name(), exc_info=error)


async def cancel_and_wait(task: asyncio.Task[None], within: float | None = None) -> bool:
    """Cancel ``task`` and wait until it has finished, or ``within`` seconds at most
    (a task that ignores its cancellation must not hang a shutdown); finished?"""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=within)
    return bool(done)
