"""What a room stores and sends for an editor's update (``collab/broadcast.py``).

An in-order editor's update is queued as it came, without observing the document; a sync
step 2, or an update not known to follow yet, as what yrs took from it. Either way what
reaches the log and the other clients is the merged update alone, and a replay of the log
gives the live document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pycrdt import Doc, Map, Subscription, get_state

from minibase.collab import protocol
from minibase.collab.options import CollabOptions
from minibase.collab.room import Room
from minibase.collab.rooms import RoomManager
from minibase.config import Settings
from minibase.store.collab_log import CollabStore
from minibase.store.database import Database
from minibase.store.unit_of_work import Store
from tests.collab.fakes import MemoryBridge, create_flow, node
from tests.collab.test_room import FakeTransport, make_client


class Replica:
    """A client's document; ``edit`` returns the update of one transaction."""

    def __init__(self, state: bytes) -> None:
        self.doc: Doc[Any] = Doc()
        self.doc.apply_update(state)
        self.nodes = self.doc.get("nodes", type=Map)

    def edit(self, change: Callable[[Map[Any]], None]) -> bytes:
        updates: list[bytes] = []
        subscription = self.doc.observe(lambda event: updates.append(event.update))
        try:
            change(self.nodes)
        finally:
            self.doc.unobserve(subscription)
        assert len(updates) == 1
        return updates[0]


def add(key: str) -> Callable[[Map[Any]], None]:
    def change(nodes: Map[Any]) -> None:
        nodes[key] = Map({"id": key, "type": "default", "position": {"x": 0, "y": 0}})

    return change


def move(key: str, x: int) -> Callable[[Map[Any]], None]:
    def change(nodes: Map[Any]) -> None:
        nodes[key]["position"] = {"x": x, "y": 0}

    return change


class Setup:
    def __init__(self, manager: RoomManager, log: CollabStore, org: str, flow: str) -> None:
        self.manager = manager
        self.log = log
        self.org = org
        self.flow = flow

    async def join(self, *, keep: bool = False) -> tuple[Room, Any, FakeTransport]:
        """A synced editor; its frames so far are cleared unless ``keep``."""
        client, transport = make_client()
        room = await self.manager.join(self.org, self.flow, client)
        room.receive(client, protocol.sync_step1(b"\x00"))
        await room.drain()
        if not keep:
            transport.frames.clear()
        return room, client, transport

    async def rows(self) -> list[bytes]:
        return (await self.log.load(self.org, self.flow)).updates

    async def replayed(self) -> Doc[Any]:
        stored = await self.log.load(self.org, self.flow)
        doc: Doc[Any] = Doc()
        for update in [stored.snapshot or b"\x00\x00", *stored.updates]:
            doc.apply_update(update)
        return doc


@asynccontextmanager
async def setup(settings: Settings) -> AsyncIterator[Setup]:
    database = Database(settings)
    store = Store(database)
    manager: RoomManager | None = None
    try:
        bridge = MemoryBridge()
        org, flow = await create_flow(store, bridge, {"name": "F", "nodes": [node("a")]})
        log = CollabStore(store)
        manager = RoomManager(bridge, log, CollabOptions(unload_delay=60))
        yield Setup(manager, log, org, flow)
    finally:
        if manager is not None:
            await manager.close()
        await database.close()


def updates_in(transport: FakeTransport) -> list[bytes]:
    return [m.update for m in transport.messages() if isinstance(m, protocol.SyncUpdate)]


async def test_an_in_order_editors_update_is_stored_alone_without_observing_the_doc(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every transaction observer a document gets, while it has it.
    live: dict[int, list[Subscription]] = {}
    observe, unobserve = Doc.observe, Doc.unobserve

    def observing(doc: Doc[Any], callback: Any) -> Subscription:
        subscription = observe(doc, callback)
        live.setdefault(id(doc), []).append(subscription)
        return subscription

    def unobserving(doc: Doc[Any], subscription: Subscription) -> None:
        live[id(doc)].remove(subscription)
        unobserve(doc, subscription)

    monkeypatch.setattr(Doc, "observe", observing)
    monkeypatch.setattr(Doc, "unobserve", unobserving)
    async with setup(settings) as s:
        room, editor, _ = await s.join()
        _, _, reader = await s.join()
        replica = Replica(room.flow.doc.get_update())
        room.receive(editor, protocol.sync_update(replica.edit(add("b"))))  # checked first
        await room.drain()
        assert editor.in_order
        assert not live.get(id(room.flow.doc))  # no standing observer
        observed = Doc.observe
        calls: list[object] = []
        monkeypatch.setattr(Doc, "observe", lambda doc, cb: calls.append(doc) or observed(doc, cb))
        moved = replica.edit(move("b", 7))
        # yrs reads an update and ignores what follows it in the frame.
        room.receive(editor, protocol.sync_update(moved + b"and then some"))
        await room.drain()
        # No transaction observer on the path of an in-order edit.
        assert room.flow.doc not in calls
        rows = await s.rows()
        # The update alone (re-encoded: yrs writes a map's keys in any order), not what
        # came after it.
        assert get_state(rows[-1]) == get_state(moved) and b"then some" not in rows[-1]
        assert len(rows[-1]) == len(moved)
        assert updates_in(reader)[-1] == rows[-1]
        assert room.flow.materialize()["nodes"][-1]["position"] == {"x": 7, "y": 0}


async def test_a_sync_step2_is_stored_as_what_it_brought(settings: Settings) -> None:
    async with setup(settings) as s:
        room, editor, _ = await s.join()
        _, _, reader = await s.join()
        replica = Replica(room.flow.doc.get_update())
        room.receive(editor, protocol.sync_update(replica.edit(move("a", 3))))
        await room.drain()
        assert editor.in_order  # a step 2 is never taken as it came, even then
        before = await s.rows()
        reader.frames.clear()
        # What a stock client sends in reply to the server's step 1: its whole state, every
        # deletion it knows of included, none of it new here.
        room.receive(editor, protocol.sync_step2(replica.doc.get_update()))
        room.receive(editor, protocol.sync_step2(b"\x00\x00"))
        await room.drain()
        assert await s.rows() == before
        assert updates_in(reader) == []
        # A step 2 that brings something stores that.
        added = replica.edit(add("c"))
        room.receive(editor, protocol.sync_step2(replica.doc.get_update()))
        await room.drain()
        rows = await s.rows()
        assert len(rows) == len(before) + 1
        assert "c" in Replica(rows[-1]).nodes and len(rows[-1]) < len(added) + 8
        assert updates_in(reader) == [rows[-1]]
        live = room.flow.doc.get("nodes", type=Map).to_py()
        assert (await s.replayed()).get("nodes", type=Map).to_py() == live


async def test_a_part_yrs_keeps_pending_is_in_the_log_when_what_it_builds_on_comes(
    settings: Settings,
) -> None:
    async with setup(settings) as s:
        room, first, _ = await s.join()
        _, second, _ = await s.join()
        _, _, reader = await s.join(keep=True)
        one = Replica(room.flow.doc.get_update())
        two = Replica(room.flow.doc.get_update())
        # Both sockets in order.
        room.receive(first, protocol.sync_update(one.edit(move("a", 1))))
        two.doc.apply_update(one.doc.get_update())
        room.receive(second, protocol.sync_update(two.edit(move("a", 2))))
        await room.drain()
        assert first.in_order and second.in_order
        # The second tab gets the first's new node straight from it (a BroadcastChannel)
        # and moves it; its update reaches the server first and builds on what it lacks.
        added = one.edit(add("b"))
        two.doc.apply_update(added)
        room.receive(second, protocol.sync_update(two.edit(move("b", 5))))
        await room.drain()
        assert "b" not in room.flow.nodes  # pending in yrs
        room.receive(first, protocol.sync_update(added))
        await room.drain()
        live = room.flow.doc.get("nodes", type=Map).to_py()
        assert live is not None and live["b"]["position"] == {"x": 5.0, "y": 0.0}
        # The log replays to the live document, and so do the frames a reader got.
        assert (await s.replayed()).get("nodes", type=Map).to_py() == live
        heard: Doc[Any] = Doc()
        for message in reader.messages():
            if isinstance(message, protocol.SyncStep2 | protocol.SyncUpdate):
                heard.apply_update(message.update)
        assert heard.get("nodes", type=Map).to_py() == live
