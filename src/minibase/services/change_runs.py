"""Change runs: after a committed flow change, re-run the ``immediate`` nodes it touched
(and what depends on them), as a run with trigger ``change``.

Every server instance receives the flow's events; the run's dedupe key
(``change:<flow>:<version>``) lets exactly one of them start it. A version that cannot
run (the editor is half-way through a change) starts nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from minibase.domain.events import Event, EventKind
from minibase.domain.principal import SYSTEM
from minibase.engine.changes import has_immediate_nodes, immediate_nodes_to_run
from minibase.engine.registry import NodeRegistry
from minibase.errors import MinibaseError
from minibase.services import flow_history, runs
from minibase.store.unit_of_work import Store

log = logging.getLogger("minibase.engine")


class ChangeRuns:
    def __init__(self, store: Store, registry: NodeRegistry) -> None:
        self.store = store
        self.registry = registry

    async def on_event(self, event: Event) -> None:
        if event.kind != EventKind.FLOW or event.version is None or event.extra.get("deleted"):
            return
        if not event.ids:
            return
        try:
            await self.start(event.org_id, event.ids[0], event.version)
        except IntegrityError:
            pass  # another instance started this change run first
        except MinibaseError as exc:
            log.info("no change run for %s v%s: %s", event.ids[0], event.version, exc.message)

    async def start(self, org_id: str, flow_id: str, version: int) -> str | None:
        """Start the change run of ``version`` if it touches immediate nodes; its id."""
        # Most flows have no immediate node: find that out in a read transaction, without
        # the write lock (every save of every flow comes here) or the version before.
        async with self.store.tenant(org_id, SYSTEM) as uow:
            if not has_immediate_nodes(await flow_history.document_at(uow, flow_id, version)):
                return None
        async with self.store.tenant(org_id, SYSTEM, write=True) as uow:
            after = await flow_history.document_at(uow, flow_id, version)
            before = (
                await flow_history.document_at(uow, flow_id, version - 1)
                if version > 1
                else {"nodes": [], "edges": []}
            )
            wanted = immediate_nodes_to_run(before, after)
            if not wanted:
                return None
            request = runs.RunRequest({}, wanted, version, False, None)
            trigger = runs.Trigger(
                "change", id=f"v{version}", dedupe_key=f"change:{flow_id}:{version}"
            )
            run, _ = await runs.start_run(
                uow,
                self.registry,
                flow_id,
                request,
                trigger=trigger,
                doc=after,
                flow_version=version,
            )
        return str(run["id"])
