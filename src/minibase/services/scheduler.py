"""The scheduler loop: fires due schedules (``services/schedules.py``).

Every server and worker runs one; the timers' row locks make each fire time start one
run however many run. It sleeps until the soonest timer (at most
``MINIBASE_SCHEDULE_POLL_SECONDS``, so timers set by other instances are seen), and wakes
early when a schedule of this deployment changes (:class:`~minibase.services.timer_loop.TimerLoop`).
"""

from __future__ import annotations

import logging

from minibase.domain.events import EventBus, EventKind
from minibase.engine.registry import NodeRegistry
from minibase.ids import now_ms
from minibase.services.schedules import fire_due
from minibase.services.timer_loop import TimerLoop
from minibase.store import schedule_timers
from minibase.store.unit_of_work import GlobalUnitOfWork, Store


class Scheduler(TimerLoop):
    name = "scheduler"
    wake_on = frozenset({EventKind.SCHEDULES})
    log = logging.getLogger("minibase.engine")
    failure = "firing schedules failed"

    def __init__(
        self, store: Store, registry: NodeRegistry, *, poll_seconds: float, bus: EventBus | None
    ) -> None:
        super().__init__(store, bus, poll_seconds=poll_seconds)
        self.registry = registry

    async def run_pass(self) -> None:
        await fire_due(self.store, self.registry, now=now_ms())

    async def soonest(self, uow: GlobalUnitOfWork) -> int | None:
        return await schedule_timers.earliest(uow)
