"""In-memory CollabAuthorizer and FlowBridge, for tests only (the real ones live in auth/flows)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from minibase.collab.options import CollabOptions
from minibase.collab.rooms import RoomManager
from minibase.config import Settings
from minibase.domain.collab import CollabAccess, Entry, Limits, RestChanges, with_entries
from minibase.domain.flow_json import FlowJSON
from minibase.domain.principal import SYSTEM, Principal
from minibase.domain.roles import Role
from minibase.errors import Forbidden, NotFound, Unauthenticated
from minibase.ids import new_id, now_ms
from minibase.realtime.bus import InProcessBus
from minibase.store.collab_log import CollabStore
from minibase.store.database import Database
from minibase.store.tables import flows
from minibase.store.unit_of_work import Store
from tests.helpers import insert_org


@dataclass
class Grant:
    principal: Principal
    role: Role
    orgs: set[str]
    limits: Limits = field(default_factory=Limits)
    banned: bool = False


class MemoryAuthorizer:
    def __init__(self, bridge: MemoryBridge) -> None:
        self.bridge = bridge
        self.tokens: dict[str, Grant] = {}

    def add(self, token: str, org_id: str, role: Role = Role.EDITOR, **limits: Any) -> Principal:
        user = new_id("usr")
        principal = Principal(kind="user", id=user, credential_id=new_id("ses"), user_id=user)
        self.tokens[token] = Grant(principal, role, {org_id}, Limits(**limits))
        return principal

    async def authorize(self, token: str, org_id: str, flow_id: str) -> CollabAccess:
        grant = self.tokens.get(token)
        if grant is None:
            raise Unauthenticated()
        if org_id not in grant.orgs or (org_id, flow_id) not in self.bridge.flows:
            raise NotFound()
        if grant.banned:
            raise Forbidden()
        return CollabAccess(grant.principal, grant.role, grant.limits)


class MemoryBridge:
    """Flows in a dict; ``changes`` records every on_change call."""

    def __init__(self) -> None:
        self.flows: dict[tuple[str, str], FlowJSON] = {}
        self.changes: list[tuple[str, str, FlowJSON, Principal]] = []
        self.changed = asyncio.Event()
        self._changes_grew = asyncio.Condition()

    async def load(self, org_id: str, flow_id: str) -> FlowJSON:
        try:
            return copy.deepcopy(self.flows[(org_id, flow_id)])
        except KeyError:
            raise NotFound() from None

    async def on_change(
        self,
        org_id: str,
        flow_id: str,
        flow_json: FlowJSON,
        author: Principal,
        only: Collection[Entry] | None = None,
    ) -> None:
        if only is not None:
            flow_json = with_entries(self.flows[(org_id, flow_id)], flow_json, only)
        self.flows[(org_id, flow_id)] = copy.deepcopy(flow_json)
        self.changes.append((org_id, flow_id, copy.deepcopy(flow_json), author))
        self.changed.set()
        async with self._changes_grew:
            self._changes_grew.notify_all()

    async def wait_changes(self, count: int, within: float = 5.0) -> None:
        """Wait until ``on_change`` has been called ``count`` times in all."""

        async def waiter() -> None:
            async with self._changes_grew:
                await self._changes_grew.wait_for(lambda: len(self.changes) >= count)

        await asyncio.wait_for(waiter(), within)

    async def rest_changes(self, org_id: str, flow_id: str) -> RestChanges | None:
        return None  # the dict only ever holds what the rooms wrote

    async def synced(self, org_id: str, flow_id: str, version: int) -> None:
        return None


async def create_flow(store: Store, bridge: MemoryBridge, flow: FlowJSON) -> tuple[str, str]:
    """Insert an org and a flow row (the FK target of the update log) and register it."""
    org_id = await insert_org(store)
    flow_id = new_id("flow")
    now = now_ms()
    async with store.tenant(org_id, SYSTEM, write=True) as uow:
        await uow.execute(
            uow.insert(
                flows,
                id=flow_id,
                name=flow.get("name", ""),
                document=b"{}",
                node_count=0,
                edge_count=0,
                size_bytes=0,
                history_bytes=0,
                version=1,
                created_by="usr_test",
                created_at=now,
                last_modified=now,
            )
        )
    bridge.flows[(org_id, flow_id)] = copy.deepcopy(flow)
    return org_id, flow_id


@dataclass
class TwoInstances:
    """Two room managers (as two server instances) sharing one database and one bus."""

    store: Store
    bridge: MemoryBridge
    """The REST flows (instance two's bridge)."""
    bridge_of_one: MemoryBridge
    org: str
    flow: str
    one: RoomManager
    two: RoomManager


@contextlib.asynccontextmanager
async def two_instances(
    settings: Settings,
    flow: FlowJSON,
    options: CollabOptions,
    bridge_of_one: Callable[[MemoryBridge], MemoryBridge] = lambda rest: rest,
) -> AsyncIterator[TwoInstances]:
    """``flow`` in a new org, served by two instances; both closed on the way out.
    ``bridge_of_one`` gives instance one its own bridge over the REST flows."""
    database = Database(settings)
    bus = InProcessBus()
    await bus.start()
    store = Store(database, publish=bus.publish)
    try:
        bridge = MemoryBridge()
        org, flow_id = await create_flow(store, bridge, flow)
        own = bridge_of_one(bridge)
        one = RoomManager(own, CollabStore(store), options)
        two = RoomManager(bridge, CollabStore(store), options)
        one.subscribe(bus)
        two.subscribe(bus)
        try:
            yield TwoInstances(store, bridge, own, org, flow_id, one, two)
        finally:
            await one.close()
            await two.close()
    finally:
        await bus.close()
        await database.close()


def node(
    node_id: str, x: float = 0, y: float = 0, type_: str = "default", **data: Any
) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "position": {"x": x, "y": y}, "data": dict(data)}


def edge(edge_id: str, source: str, target: str) -> dict[str, Any]:
    return {"id": edge_id, "source": source, "target": target}


def canon(flow: FlowJSON) -> dict[str, Any]:
    """A flow's name, nodes and edges, entries sorted by id: views of one document list
    entries in the order each integrated them."""
    return {
        "name": flow["name"],
        "nodes": sorted(flow["nodes"], key=lambda n: str(n["id"])),
        "edges": sorted(flow["edges"], key=lambda e: str(e["id"])),
    }
