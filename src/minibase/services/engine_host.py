"""The flow engine of one process: its node types, change runs (servers) and, where this
process executes runs, its worker. ``minibase serve`` and ``minibase worker`` build one."""

from __future__ import annotations

from collections.abc import Callable

from minibase.config import Settings
from minibase.domain.events import EventBus
from minibase.engine.registry import NodeRegistry
from minibase.services.change_runs import ChangeRuns
from minibase.services.event_delivery import EventDeliverer
from minibase.services.event_webhooks import record_deliveries
from minibase.services.run_worker import RunWorker
from minibase.services.scheduler import Scheduler
from minibase.store.unit_of_work import Store


class EngineHost:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        bus: EventBus | None,
        *,
        execute_runs: bool,
        watch_changes: bool = True,
        run_schedules: bool = True,
        registry: NodeRegistry | None = None,
    ) -> None:
        self.registry = registry or NodeRegistry.default()
        # Every committed change of this process records its event webhook deliveries.
        store.before_commit = record_deliveries
        self.deliverer = EventDeliverer(store, settings, bus)
        self.worker: RunWorker | None = None
        if execute_runs:
            self.worker = RunWorker(store, settings, self.registry, bus=bus)
        self._bus = bus if watch_changes else None
        self.change_runs = ChangeRuns(store, self.registry)
        self._unsubscribe: Callable[[], None] | None = None
        self.scheduler: Scheduler | None = None
        if run_schedules and settings.run_schedules:
            self.scheduler = Scheduler(
                store, self.registry, poll_seconds=settings.schedule_poll_seconds, bus=bus
            )

    async def start(self) -> None:
        if self._bus is not None:
            self._unsubscribe = self._bus.subscribe(self.change_runs.on_event)
        if self.worker is not None:
            await self.worker.start()
        if self.scheduler is not None:
            await self.scheduler.start()
        await self.deliverer.start()

    async def close(self) -> None:
        await self.deliverer.close()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.scheduler is not None:
            await self.scheduler.close()
        if self.worker is not None:
            await self.worker.close()
