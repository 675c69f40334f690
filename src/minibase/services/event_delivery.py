"""The delivery loop of event webhooks (``services/event_webhooks.py``).

Every server and worker runs one; the timers' row locks (and leases) make each attempt
happen once however many run. It sleeps until the soonest timer (at most
``MINIBASE_WEBHOOK_POLL_SECONDS``, so deliveries recorded by other instances are seen),
and wakes early when this deployment recorded deliveries (the ``webhook.deliveries``
event of the transaction that recorded them; not every save or run, each of which would
cost a pass and a read of the timers). See :class:`~minibase.services.timer_loop.TimerLoop`.
"""

from __future__ import annotations

import logging

from minibase.config import Settings
from minibase.domain.events import EventBus, EventKind
from minibase.services.event_webhooks import deliver_due, earliest
from minibase.services.timer_loop import TimerLoop
from minibase.store.unit_of_work import GlobalUnitOfWork, Store


class EventDeliverer(TimerLoop):
    name = "event-webhooks"
    log = logging.getLogger("minibase.webhooks")
    failure = "delivering event webhooks failed"

    def __init__(self, store: Store, settings: Settings, bus: EventBus | None) -> None:
        # Stop between passes: an attempt in flight ends (within its timeout) and records
        # its outcome, rather than leave its delivery leased until the lease lapses.
        super().__init__(
            store,
            bus,
            poll_seconds=settings.webhook_poll_seconds,
            close_grace=settings.webhook_timeout_seconds + 2,
        )
        self.settings = settings

    wake_on = frozenset({EventKind.WEBHOOK_DELIVERIES})

    async def run_pass(self) -> None:
        await deliver_due(self.store, self.settings, stopping=lambda: self.stopping)

    async def soonest(self, uow: GlobalUnitOfWork) -> int | None:
        return await earliest(uow)
