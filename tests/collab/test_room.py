"""Room behaviour with in-memory transports: batching, handshake, viewers, persistence."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from typing import Any

import pytest
from pycrdt import Doc, Map

from minibase.collab import broadcast, protocol
from minibase.collab.client import Client
from minibase.collab.compaction import Compactor
from minibase.collab.flow_doc import FlowDoc
from minibase.collab.options import CollabOptions
from minibase.collab.room import Room
from minibase.collab.rooms import RoomManager
from minibase.config import Settings
from minibase.domain.collab import CollabAccess, Entry
from minibase.domain.principal import SYSTEM, Principal
from minibase.domain.roles import Role
from minibase.store.collab_log import CollabStore
from minibase.store.database import Database
from minibase.store.unit_of_work import Store
from tests.collab.fakes import MemoryBridge, create_flow, node, two_instances

EDITOR = CollabAccess(
    Principal(kind="user", id="u1", credential_id="s1", user_id="u1"), Role.EDITOR
)


class FakeTransport:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.closed: tuple[int, str | None] | None = None

    async def send_bytes(self, data: bytes) -> None:
        self.frames.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)

    def messages(self) -> list[protocol.Message]:
        return [protocol.decode_message(f) for f in self.frames]


def make_client(access: CollabAccess = EDITOR) -> tuple[Client, FakeTransport]:
    transport = FakeTransport()
    client = Client(transport, access, max_queued=100)
    client.start()
    return client, transport


def edit(doc: Doc[Any], key: str) -> bytes:
    before = doc.get_state()
    nodes = doc.get("nodes", type=Map)
    nodes[key] = Map({"id": key, "type": "t", "position": {"x": 0, "y": 0}})
    return doc.get_update(before)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _room_with_clients(
    n: int,
) -> tuple[Room, list[tuple[Client, FakeTransport]], FakeTransport]:
    """A room with ``n`` synced editors and a synced reader whose frames so far are cleared."""
    room = Room("org", "flow", FlowDoc(), options=CollabOptions(), persistence=None, bridge=None)
    writers = [make_client() for _ in range(n)]
    reader, reader_t = make_client()
    for client, _ in [*writers, (reader, reader_t)]:
        room.join(client)
        room.receive(client, protocol.sync_step1(b"\x00"))
    await settle()
    reader_t.frames.clear()
    return room, writers, reader_t


async def test_updates_of_one_turn_are_broadcast_as_one_frame() -> None:
    room, writers, reader_t = await _room_with_clients(5)
    docs: list[Doc[Any]] = [Doc() for _ in writers]
    for i, ((client, _), doc) in enumerate(zip(writers, docs, strict=True)):
        for j in range(4):
            room.receive(client, protocol.sync_update(edit(doc, f"n{i}-{j}")))
    await room.drain()
    await settle()
    updates = [m for m in reader_t.messages() if isinstance(m, protocol.SyncUpdate)]
    assert len(updates) == 1
    check: Doc[Any] = Doc()
    check.apply_update(updates[0].update)
    assert len(check.get("nodes", type=Map)) == 20
    # Every writer (the authors included) got the same one frame.
    for _, transport in writers:
        assert sum(isinstance(m, protocol.SyncUpdate) for m in transport.messages()) == 1


async def _updates_over_turns(writers: int, turns: int, *, quiet: int = 0) -> int:
    """Feed one update from each of ``writers`` editors in the first turn and one more in
    each of ``turns`` turns, with ``quiet`` turns that bring nothing before each; how
    many update frames a reader got once all is broadcast."""
    room, clients, reader_t = await _room_with_clients(writers)
    docs: list[Doc[Any]] = [Doc() for _ in clients]
    for i, ((client, _), doc) in enumerate(zip(clients, docs, strict=True)):
        room.receive(client, protocol.sync_update(edit(doc, f"first-{i}")))
    first = clients[0][0]
    for turn in range(turns):
        for _ in range(quiet + 1):
            await asyncio.sleep(0)
        room.receive(first, protocol.sync_update(edit(docs[0], f"turn-{turn}")))
    await asyncio.wait_for(room.drain(), 5)
    await settle()
    return sum(isinstance(m, protocol.SyncUpdate) for m in reader_t.messages())


async def test_updates_arriving_turn_after_turn_are_gathered_into_one_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A batch of more than one update waits while updates keep coming (under load,
    # writers answering the last broadcast arrive over several turns), quiet turns
    # between them included, and no longer: the drain returns well before the (long)
    # gather limit.
    monkeypatch.setattr(broadcast, "GATHER_SECONDS", 30.0)
    monkeypatch.setattr(broadcast, "QUIET_SECONDS", 1.0)
    monkeypatch.setattr(broadcast, "QUIET_PER_UPDATE", 1.0)
    assert await _updates_over_turns(3, 10) == 1
    assert await _updates_over_turns(3, 10, quiet=3) == 1
    # After a small batch the quiet time is short (here none: a quiet turn ends it).
    monkeypatch.setattr(broadcast, "QUIET_PER_UPDATE", 0.0)
    assert await _updates_over_turns(3, 10, quiet=1) > 2
    monkeypatch.setattr(broadcast, "QUIET_PER_UPDATE", 1.0)
    # A batch goes out once no update came for the quiet time: with none, after a turn
    # that brought nothing.
    monkeypatch.setattr(broadcast, "QUIET_SECONDS", 0.0)
    assert await _updates_over_turns(3, 10) == 1  # each turn brings one
    assert await _updates_over_turns(3, 10, quiet=1) > 2
    # The limit holds: with none, each turn's updates go out in their own frame.
    monkeypatch.setattr(broadcast, "QUIET_SECONDS", 1.0)
    monkeypatch.setattr(broadcast, "GATHER_SECONDS", 0.0)
    assert await _updates_over_turns(3, 10) > 2


async def test_a_lone_edit_is_not_held_for_more(monkeypatch: pytest.MonkeyPatch) -> None:
    # One update at a time (one writer) goes out at once, each in its own frame.
    monkeypatch.setattr(broadcast, "GATHER_SECONDS", 30.0)
    assert await _updates_over_turns(1, 5) == 6


async def test_client_joins_broadcast_only_after_its_sync_step1() -> None:
    room = Room("org", "flow", FlowDoc(), options=CollabOptions(), persistence=None, bridge=None)
    writer, _ = make_client()
    late, late_t = make_client()
    room.join(writer)
    room.join(late)
    room.receive(writer, protocol.sync_update(edit(Doc(), "x")))
    await room.drain()
    await settle()
    kinds = [type(m).__name__ for m in late_t.messages()]
    assert kinds == ["SyncStep1"]  # not synced yet: no broadcast
    room.receive(late, protocol.sync_step1(b"\x00"))
    await settle()
    step2 = late_t.messages()[-1]
    assert isinstance(step2, protocol.SyncStep2)
    doc: Doc[Any] = Doc()
    doc.apply_update(step2.update)
    assert "x" in doc.get("nodes", type=Map)


class StuckTransport(FakeTransport):
    """A peer that never reads: its first write waits forever (full socket buffers)."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = asyncio.Event()
        self.closing = asyncio.Event()

    async def send_bytes(self, data: bytes) -> None:
        self.writing.set()
        await asyncio.Event().wait()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)
        self.closing.set()
        await asyncio.Event().wait()  # the close frame is not taken either


async def test_a_reader_that_never_reads_costs_the_others_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from minibase.collab import client as client_module
    from minibase.collab.client import CLOSE_TOO_SLOW

    monkeypatch.setattr(client_module, "CLOSE_TIMEOUT", 0.2)

    room = Room("org", "flow", FlowDoc(), options=CollabOptions(), persistence=None, bridge=None)
    writer, _ = make_client()
    readers = [make_client() for _ in range(3)]
    stuck_t = StuckTransport()
    stuck = Client(stuck_t, EDITOR, max_queued=1000, max_queued_bytes=4096)
    stuck.start()
    for client in (writer, stuck, *(c for c, _ in readers)):
        room.join(client)
        room.receive(client, protocol.sync_step1(b"\x00"))
    await asyncio.wait_for(stuck_t.writing.wait(), 5)  # its writer waits on the socket now
    doc: Doc[Any] = Doc()
    edits = 0
    while not stuck.closed:
        edits += 1
        assert edits < 1000, "the stuck client was never closed"
        room.receive(writer, protocol.sync_update(edit(doc, f"n{edits}-" + "x" * 200)))
        await asyncio.wait_for(room.drain(), 5)
    # Closed as too slow, what it had waiting dropped at once, its write stopped.
    assert stuck.queued_bytes == 0
    await asyncio.wait_for(stuck_t.closing.wait(), 5)
    assert stuck_t.closed == (CLOSE_TOO_SLOW, "client too slow")
    for _ in range(20):  # the others go on getting every edit
        edits += 1
        room.receive(writer, protocol.sync_update(edit(doc, f"n{edits}")))
        await asyncio.wait_for(room.drain(), 5)
    for _ in range(100):
        if all(len(t.frames) >= edits + 2 for _, t in readers):
            break
        await asyncio.sleep(0)
    for _, transport in readers:
        check: Doc[Any] = Doc()
        for message in transport.messages():
            if isinstance(message, protocol.SyncStep2 | protocol.SyncUpdate):
                check.apply_update(message.update)
        assert len(check.get("nodes", type=Map)) == edits
    room.leave(stuck)
    await asyncio.wait_for(stuck.stop(), 10)


async def test_viewer_is_denied_once_and_nothing_applied() -> None:
    room = Room("org", "flow", FlowDoc(), options=CollabOptions(), persistence=None, bridge=None)
    viewer, viewer_t = make_client(CollabAccess(EDITOR.principal, Role.VIEWER))
    room.join(viewer)
    doc: Doc[Any] = Doc()
    room.receive(viewer, protocol.sync_step2(edit(doc, "a")))  # its step 2: ignored silently
    room.receive(viewer, protocol.sync_update(edit(doc, "b")))
    room.receive(viewer, protocol.sync_update(edit(doc, "c")))
    await settle()
    denied = [m for m in viewer_t.messages() if isinstance(m, protocol.PermissionDenied)]
    assert denied == [protocol.PermissionDenied("read-only")]
    assert len(room.flow.nodes) == 0
    assert viewer_t.closed is None


async def test_awareness_is_coalesced_and_removed_on_leave() -> None:
    room = Room("org", "flow", FlowDoc(), options=CollabOptions(), persistence=None, bridge=None)
    a, a_t = make_client()
    b, b_t = make_client()
    room.join(a)
    room.join(b)
    for clock in range(5):
        update = protocol.encode_awareness_update(
            [protocol.AwarenessEntry(9, clock, f'{{"c":{clock}}}')]
        )
        room.receive(a, protocol.awareness_message(update))
    await settle()
    for transport in (a_t, b_t):
        frames = [m for m in transport.messages() if isinstance(m, protocol.AwarenessUpdate)]
        assert len(frames) == 1
        assert protocol.decode_awareness_update(frames[0].update) == [
            protocol.AwarenessEntry(9, 4, '{"c":4}')
        ]
    room.leave(a)
    await settle()
    last = [m for m in b_t.messages() if isinstance(m, protocol.AwarenessUpdate)][-1]
    assert protocol.decode_awareness_update(last.update) == [protocol.AwarenessEntry(9, 5, "null")]
    room.receive(b, protocol.query_awareness())
    await settle()
    reply = b_t.messages()[-1]
    assert isinstance(reply, protocol.AwarenessUpdate)
    assert protocol.decode_awareness_update(reply.update) == []
    await room.close()


async def test_log_compaction_and_seq_allocation(settings: Settings) -> None:
    database = Database(settings)
    store = Store(database)
    try:
        bridge = MemoryBridge()
        org, flow = await create_flow(
            store, bridge, {"name": "F", "nodes": [node("a")], "edges": []}
        )
        cs = CollabStore(store)
        doc: Doc[Any] = Doc()
        updates = [edit(doc, f"n{i}") for i in range(10)]
        seqs = await asyncio.gather(*(cs.append(org, flow, u, EDITOR.principal) for u in updates))
        assert sorted(seqs) == list(range(1, 11))
        result = await cs.compact(org, flow)
        assert result is not None and result.upto_seq == 10 and result.rows == 10
        stored = await cs.load(org, flow)
        assert stored.updates == [] and stored.upto_seq == 10 and stored.snapshot
        assert await cs.append(org, flow, edit(doc, "after"), EDITOR.principal) == 11
        stored = await cs.load(org, flow)
        assert len(stored.updates) == 1 and stored.last_seq == 11
        loaded: Doc[Any] = Doc()
        assert stored.snapshot is not None
        loaded.apply_update(stored.snapshot)
        loaded.apply_update(stored.updates[0])
        assert loaded.get("nodes", type=Map).to_py() == doc.get("nodes", type=Map).to_py()
        assert await cs.compact(org, flow) is not None
        assert await cs.compact(org, flow) is None
    finally:
        await database.close()


async def test_compaction_waits_until_the_log_holds_half_the_snapshot(settings: Settings) -> None:
    """Past a threshold, a flow whose snapshot is large compacts only once its log holds
    half the snapshot's bytes: each compaction rereads the whole snapshot."""
    database = Database(settings)
    store = Store(database)
    try:
        bridge = MemoryBridge()
        org, flow = await create_flow(store, bridge, {"name": "F", "nodes": [], "edges": []})
        cs = CollabStore(store)
        doc: Doc[Any] = Doc()
        nodes = doc.get("nodes", type=Map)
        with doc.transaction():
            for i in range(40):
                nodes[f"big{i}"] = Map({"id": f"big{i}", "type": "t", "data": "x" * 500})
        await cs.append(org, flow, doc.get_update(), EDITOR.principal)
        first = await cs.compact(org, flow)
        assert first is not None and first.snapshot_bytes > 20_000
        compactor = Compactor(
            org,
            flow,
            cs,
            after_updates=2,
            after_bytes=1 << 20,
            snapshot_bytes=first.snapshot_bytes,
        )
        logged = 0
        for i in range(1000):
            update = edit(doc, f"n{i}")
            await cs.append(org, flow, update, EDITOR.principal)
            logged += len(update)
            compactor.stored(len(update))
            if 2 * logged >= first.snapshot_bytes:
                break
            assert not compactor.due  # past two rows, but not half the snapshot yet
        assert i > 2
        await compactor.close(compact=False)  # the compaction that started runs to its end
        stored = await cs.load(org, flow)
        assert stored.updates == [] and stored.upto_seq == i + 2
        assert compactor.snapshot_bytes > first.snapshot_bytes
    finally:
        await database.close()


async def test_manager_loads_once_unloads_and_compacts(settings: Settings) -> None:
    database = Database(settings)
    store = Store(database)
    try:
        bridge = MemoryBridge()
        org, flow = await create_flow(
            store, bridge, {"name": "F", "nodes": [node("a")], "edges": []}
        )
        manager = RoomManager(
            bridge, CollabStore(store), CollabOptions(unload_delay=0.01, materialize_delay=0.01)
        )
        clients = [make_client() for _ in range(3)]
        rooms = await asyncio.gather(*(manager.join(org, flow, c) for c, _ in clients))
        assert rooms[0] is rooms[1] is rooms[2]
        room = rooms[0]
        room.receive(clients[0][0], protocol.sync_update(edit(Doc(), "b")))
        await room.drain()
        for client, _ in clients:
            manager.leave(room, client)
        for _ in range(100):
            if manager.loaded(org, flow) is None:
                break
            await asyncio.sleep(0.01)
        assert manager.loaded(org, flow) is None
        stored = await CollabStore(store).load(org, flow)
        assert stored.updates == [] and stored.snapshot is not None  # compacted on unload
        assert bridge.changes and bridge.changes[-1][3] == EDITOR.principal
        assert [n["id"] for n in bridge.changes[-1][2]["nodes"]] == ["a", "b"]
        again = await manager.materialized(org, flow)
        assert [n["id"] for n in again["nodes"]] == ["a", "b"]
        await manager.close()
    finally:
        await database.close()


async def test_unloaded_room_releases_its_document(settings: Settings) -> None:
    import gc
    import weakref

    database = Database(settings)
    store = Store(database)
    try:
        bridge = MemoryBridge()
        org, flow = await create_flow(
            store, bridge, {"name": "F", "nodes": [node("a")], "edges": []}
        )
        manager = RoomManager(bridge, CollabStore(store), CollabOptions(unload_delay=0.01))
        client, _ = make_client()
        room = await manager.join(org, flow, client)
        room.receive(client, protocol.sync_update(edit(Doc(), "b")))
        await room.drain()
        room_ref = weakref.ref(room)
        doc_ref = weakref.ref(room.flow.doc)
        manager.leave(room, client)
        del room
        for _ in range(100):
            if manager.loaded(org, flow) is None:
                break
            await asyncio.sleep(0.01)
        await manager.close()  # waits for the unload task
        await client.stop()
        del client
        gc.collect()
        assert manager.room_count == 0
        assert room_ref() is None and doc_ref() is None
    finally:
        await database.close()


async def test_two_instances_share_a_flow_through_the_log_and_bus(settings: Settings) -> None:
    flow_json = {"name": "F", "nodes": [node("a"), node("b")], "edges": []}
    options = CollabOptions(unload_delay=0.01, materialize_delay=0.01)
    async with two_instances(settings, flow_json, options) as pair:
        c1, t1 = make_client()
        c2, t2 = make_client()
        room1 = await pair.one.join(pair.org, pair.flow, c1)
        room2 = await pair.two.join(pair.org, pair.flow, c2)
        assert room1 is not room2
        room1.receive(c1, protocol.sync_step1(b"\x00"))
        room2.receive(c2, protocol.sync_step1(b"\x00"))
        await settle()
        # Instance one: delete b. Instance two, concurrently: an edge a -> b.
        doc1: Doc[Any] = Doc()
        doc1.apply_update(room1.flow.doc.get_update())
        before = doc1.get_state()
        del doc1.get("nodes", type=Map)["b"]
        room1.receive(c1, protocol.sync_update(doc1.get_update(before)))
        doc2: Doc[Any] = Doc()
        doc2.apply_update(room2.flow.doc.get_update())
        before = doc2.get_state()
        doc2.get("edges", type=Map)["ab"] = {"id": "ab", "source": "a", "target": "b"}
        room2.receive(c2, protocol.sync_update(doc2.get_update(before)))
        for _ in range(200):
            await room1.drain()
            await room2.drain()
            f1, f2 = room1.flow.materialize(), room2.flow.materialize()
            if f1 == f2 and [n["id"] for n in f1["nodes"]] == ["a"] and not f1["edges"]:
                break
            await asyncio.sleep(0.01)
        assert room1.flow.materialize() == room2.flow.materialize()
        assert [n["id"] for n in room1.flow.materialize()["nodes"]] == ["a"]
        assert room1.flow.materialize()["edges"] == []
        # Each instance's client got the other's edit through its own room.
        for transport in (t1, t2):
            check: Doc[Any] = Doc()
            for message in transport.messages():
                if isinstance(message, protocol.SyncStep2 | protocol.SyncUpdate):
                    check.apply_update(message.update)
            assert list(check.get("nodes", type=Map).keys()) == ["a"]
            assert len(check.get("edges", type=Map)) == 0


class HeldBridge(MemoryBridge):
    """Shares ``flows`` (the REST flow) with another bridge; holds hand-overs until released."""

    def __init__(self, rest: MemoryBridge) -> None:
        super().__init__()
        self.flows = rest.flows
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def on_change(
        self,
        org_id: str,
        flow_id: str,
        flow_json: Any,
        author: Principal,
        only: Collection[Entry] | None = None,
    ) -> None:
        self.entered.set()
        await self.release.wait()
        await super().on_change(org_id, flow_id, flow_json, author, only)


async def test_rest_flow_converges_when_an_older_hand_over_of_another_instance_lands_last(
    settings: Settings,
) -> None:
    """Instance one's hand-over, snapshotted before it saw instance two's edit, reaches
    REST after two handed that edit over. One hands over again once it caught up, so the
    REST flow ends with both edits (before the fix it kept one's older view for good)."""
    options = CollabOptions(unload_delay=0.01, materialize_delay=0.01)
    empty = {"name": "F", "nodes": [], "edges": []}
    async with two_instances(settings, empty, options, bridge_of_one=HeldBridge) as pair:
        rest, held = pair.bridge, pair.bridge_of_one
        assert isinstance(held, HeldBridge)
        try:
            c1, _ = make_client()
            c2, _ = make_client()
            room1 = await pair.one.join(pair.org, pair.flow, c1)
            room2 = await pair.two.join(pair.org, pair.flow, c2)
            room1.receive(c1, protocol.sync_update(edit(Doc(), "x")))
            await asyncio.wait_for(held.entered.wait(), 5)  # one's snapshot {x} is taken
            for _ in range(500):
                if "x" in room2.flow.nodes:
                    break
                await asyncio.sleep(0.01)
            room2.receive(c2, protocol.sync_update(edit(Doc(), "y")))

            def rest_ids() -> list[str]:
                return sorted(n["id"] for n in rest.flows[(pair.org, pair.flow)]["nodes"])

            seen = 0
            while rest_ids() != ["x", "y"]:  # two hands over {x, y}
                seen += 1
                await rest.wait_changes(seen)
            held.release.set()
            await held.wait_changes(1)  # one's older {x} lands last
            for _ in range(500):  # and one hands over again once it caught up y
                if rest_ids() == ["x", "y"]:
                    break
                await asyncio.sleep(0.01)
            assert rest_ids() == ["x", "y"]
            assert held.changes[-1][3] == SYSTEM  # no local author: the server hands it over
        finally:
            held.release.set()  # instance one's close hands over too


def _two_authors() -> tuple[Room, MemoryBridge, Client, Client]:
    """A room handing over to a memory REST after 50 ms, and two editors: alice (u1)
    and bob (u2)."""
    bridge = MemoryBridge()
    bridge.flows[("org", "flow")] = {"name": "F", "nodes": [], "edges": []}
    room = Room(
        "org",
        "flow",
        FlowDoc(),
        options=CollabOptions(materialize_delay=0.05),
        persistence=None,
        bridge=bridge,
    )
    alice, _ = make_client()
    bob_access = CollabAccess(
        Principal(kind="user", id="u2", credential_id="s2", user_id="u2"), Role.EDITOR
    )
    bob, _ = make_client(bob_access)
    return room, bridge, alice, bob


async def test_on_change_is_throttled_and_split_by_author() -> None:
    room, bridge, alice, bob = _two_authors()
    doc: Doc[Any] = Doc()
    for key in ("a1", "a2", "a3"):
        room.receive(alice, protocol.sync_update(edit(doc, key)))
    room.receive(bob, protocol.sync_update(edit(doc, "b1")))  # another author: alice's go now
    await bridge.wait_changes(2)
    authors = [change[3].id for change in bridge.changes]
    assert authors == ["u1", "u2"]
    assert [n["id"] for n in bridge.changes[0][2]["nodes"]] == ["a1", "a2", "a3"]
    assert [n["id"] for n in bridge.changes[1][2]["nodes"]] == ["a1", "a2", "a3", "b1"]
    # REST writes never come back through on_change: the next hand-over after one is
    # alice's next edit, which already holds the REST write.
    await room.apply_flow({"name": "G", "nodes": [], "edges": []}, EDITOR.principal)
    room.receive(alice, protocol.sync_update(edit(Doc(), "a4")))
    await bridge.wait_changes(3)
    await room.close()
    assert len(bridge.changes) == 3
    assert bridge.changes[2][3].id == "u1"
    assert bridge.changes[2][2]["name"] == "G"
    assert [n["id"] for n in bridge.changes[2][2]["nodes"]] == ["a4"]


async def test_authors_editing_in_one_window_get_a_version_each() -> None:
    """Interleaved authors: one hand-over each per window (not one per change of
    author), in the order they started; each but the last hands over only its share."""
    room, bridge, alice, bob = _two_authors()
    doc: Doc[Any] = Doc()
    for turn in range(3):
        room.receive(alice, protocol.sync_update(edit(doc, f"a{turn}")))
        room.receive(bob, protocol.sync_update(edit(doc, f"b{turn}")))
        await asyncio.sleep(0)
    await bridge.wait_changes(2)
    await room.close()
    assert [change[3].id for change in bridge.changes] == ["u1", "u2"]
    assert [n["id"] for n in bridge.changes[0][2]["nodes"]] == ["a0", "a1", "a2"]
    everything = ["a0", "b0", "a1", "b1", "a2", "b2"]
    assert sorted(n["id"] for n in bridge.changes[1][2]["nodes"]) == sorted(everything)
    assert sorted(n["id"] for n in bridge.flows[("org", "flow")]["nodes"]) == sorted(everything)


class FailingStore(CollabStore):
    async def append(self, org_id: str, flow_id: str, update: bytes, principal: Principal) -> int:
        from sqlalchemy.exc import OperationalError

        raise OperationalError("INSERT", {}, Exception("disk full"))


async def test_storage_failure_closes_the_room_and_fails_rest_writes(settings: Settings) -> None:
    import pytest

    from minibase.errors import ServiceUnavailable

    database = Database(settings)
    store = Store(database)
    try:
        room = Room(
            "org",
            "flow",
            FlowDoc(),
            options=CollabOptions(),
            persistence=FailingStore(store),
            bridge=None,
        )
        client, transport = make_client()
        room.join(client)
        room.receive(client, protocol.sync_update(edit(Doc(), "x")))
        with pytest.raises(ServiceUnavailable):
            await room.drain()
        await client.stop()
        assert transport.closed == (1011, "storage failure")
        assert room.broken
        with pytest.raises(ServiceUnavailable):
            await room.apply_flow({"name": "x", "nodes": [], "edges": []}, EDITOR.principal)
        await room.close()
    finally:
        await database.close()


async def test_mangled_updates_raise_protocol_error_only_and_room_stays_usable() -> None:
    import random

    from minibase.collab.protocol import ProtocolError

    room = Room("org", "flow", FlowDoc(), options=CollabOptions(), persistence=None, bridge=None)
    client, _ = make_client()
    room.join(client)
    good = edit(Doc(), "a")
    rng = random.Random(1)
    for _ in range(3000):
        mangled = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            if op < 0.5:
                mangled[rng.randrange(len(mangled))] = rng.randrange(256)
            elif op < 0.75 and len(mangled) > 1:
                del mangled[rng.randrange(len(mangled))]
            else:
                mangled.insert(rng.randrange(len(mangled) + 1), rng.randrange(256))
        frame = protocol.sync_update(bytes(mangled)) if rng.random() < 0.8 else bytes(mangled)
        with contextlib.suppress(ProtocolError):
            room.receive(client, frame)
    await room.drain()
    room.receive(client, protocol.sync_update(edit(Doc(), "after")))
    await room.drain()
    assert "after" in room.flow.nodes
    await room.close()


async def test_unload_flow_closes_clients_and_apply_flow_loads_rooms(settings: Settings) -> None:
    database = Database(settings)
    store = Store(database)
    try:
        bridge = MemoryBridge()
        org, flow = await create_flow(
            store, bridge, {"name": "F", "nodes": [node("a")], "edges": []}
        )
        manager = RoomManager(bridge, CollabStore(store), CollabOptions(unload_delay=0.01))
        update = await manager.apply_flow(
            org, flow, {"name": "G", "nodes": [node("a"), node("b")], "edges": []}, EDITOR.principal
        )
        assert update
        client, transport = make_client()
        room = await manager.join(org, flow, client)
        assert [n["id"] for n in room.flow.materialize()["nodes"]] == ["a", "b"]
        await manager.unload_flow(org, flow)
        assert manager.loaded(org, flow) is None
        assert transport.closed == (4404, "flow deleted")
        stored = await CollabStore(store).load(org, flow)
        loaded: Doc[Any] = Doc()
        if stored.snapshot:
            loaded.apply_update(stored.snapshot)
        for u in stored.updates:
            loaded.apply_update(u)
        assert sorted(loaded.get("nodes", type=Map).keys()) == ["a", "b"]
        await manager.close()
    finally:
        await database.close()


class RefusingBridge(MemoryBridge):
    """REST that refuses every hand-over with ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.refusals = 0

    async def on_change(
        self,
        org_id: str,
        flow_id: str,
        flow_json: dict[str, Any],
        author: Principal,
        only: Collection[Entry] | None = None,
    ) -> None:
        self.refusals += 1
        self.changed.set()
        raise self.error


async def test_a_refused_hand_over_is_taken_back_and_its_author_told() -> None:
    from minibase.errors import QuotaExceeded

    bridge = RefusingBridge(QuotaExceeded("storageQuota", 100, 90, 20))
    bridge.flows[("org", "flow")] = {"name": "F", "nodes": [], "edges": []}
    flow_doc = FlowDoc()
    flow_doc.apply_flow(bridge.flows[("org", "flow")])
    room = Room(
        "org",
        "flow",
        flow_doc,
        options=CollabOptions(materialize_delay=0.01),
        persistence=None,
        bridge=bridge,
    )
    author, transport = make_client()
    room.join(author)
    room.receive(author, protocol.sync_step1(b"\x00"))
    room.receive(author, protocol.sync_update(edit(Doc(), "big")))
    await asyncio.wait_for(bridge.changed.wait(), 5)
    await room.close()  # waits for the hand-over task, which takes the edit back
    await author.stop()
    assert room.flow.materialize()["nodes"] == []
    notes = [m.payload for m in transport.messages() if isinstance(m, protocol.Notification)]
    assert (notes[-1]["type"], notes[-1]["code"]) == ("edit_refused", "quota_exceeded")


async def test_a_failed_hand_over_is_logged_and_the_room_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from minibase.errors import ServiceUnavailable

    bridge = RefusingBridge(ServiceUnavailable("database down"))
    room = Room(
        "org",
        "flow",
        FlowDoc(),
        options=CollabOptions(materialize_delay=0.01),
        persistence=None,
        bridge=bridge,
    )
    author, _ = make_client()
    room.join(author)
    room.receive(author, protocol.sync_update(edit(Doc(), "kept")))
    await asyncio.wait_for(bridge.changed.wait(), 5)
    await room.close()  # waits for the hand-over task
    await author.stop()
    assert "kept" in room.flow.nodes and bridge.refusals >= 1  # not taken back
    assert any(r.getMessage() == "materializing a collab flow failed" for r in caplog.records)
