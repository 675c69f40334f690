"""An editor's update that is ahead of what it builds on is held until that arrives."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pycrdt import Doc, Map

from minibase.collab import protocol
from minibase.collab.flow_doc import FlowDoc
from minibase.collab.held_updates import (
    RELEASE_EVERY,
    HeldUpdates,
    Order,
    is_single_client,
    order_of,
)
from minibase.collab.options import CollabOptions
from minibase.collab.room import Room
from minibase.config import Settings
from tests.collab.fakes import canon, node, two_instances
from tests.collab.test_room import FakeTransport, make_client, settle


class Editor:
    """A Yjs replica that records each of its transactions as an update."""

    def __init__(self, state: bytes = b"") -> None:
        self.doc: Doc[Any] = Doc()
        if state:
            self.doc.apply_update(state)
        self.updates: list[bytes] = []
        self.doc.observe(lambda event: self.updates.append(event.update))
        self.nodes: Map[Any] = self.doc.get("nodes", type=Map)

    def add(self, key: str, x: int = 0) -> bytes:
        self.nodes[key] = Map({"id": key, "type": "default", "position": {"x": x, "y": 0}})
        return self.updates[-1]

    def move(self, key: str, x: int) -> bytes:
        self.nodes[key]["position"] = {"x": x, "y": 0}
        return self.updates[-1]

    def delete(self, key: str) -> bytes:
        del self.nodes[key]
        return self.updates[-1]


def positions(flow: FlowDoc) -> dict[str, int]:
    return {n["id"]: n["position"]["x"] for n in flow.materialize()["nodes"]}


def test_order_of_tells_where_an_update_stands_and_changes_nothing() -> None:
    server = FlowDoc()
    editor = Editor()
    first, second, gone = editor.add("a"), editor.move("a", 5), editor.delete("a")
    assert is_single_client(first) and is_single_client(second)
    state = server.doc.get_state()
    assert order_of(server.doc, first) is Order.FOLLOWS
    assert order_of(server.doc, second) is Order.AHEAD
    assert order_of(server.doc, gone) is Order.NOTHING_NEW  # a deletion adds no struct
    assert server.doc.get_state() == state
    server.doc.apply_update(first)
    assert order_of(server.doc, first) is Order.NOTHING_NEW
    assert order_of(server.doc, second) is Order.FOLLOWS
    with pytest.raises((ValueError, RuntimeError)):
        order_of(server.doc, b"\x01\xff")


def held_in(
    server: FlowDoc, max_updates: int = 8, max_bytes: int = 1 << 20, max_per_author: int = 8
) -> HeldUpdates[str]:
    """Held updates released straight into ``server``'s document."""
    return HeldUpdates(
        server.doc,
        lambda _author, update: server.doc.apply_update(update),
        max_updates=max_updates,
        max_bytes=max_bytes,
        max_per_author=max_per_author,
    )


def test_held_updates_come_out_in_their_order_once_they_follow() -> None:
    server = FlowDoc()
    editor = Editor()
    first, second, third = editor.add("a"), editor.move("a", 5), editor.move("a", 7)
    held = held_in(server)
    assert held.hold("e", third) and held.hold("e", second)
    assert held.ready() is None
    server.doc.apply_update(first)
    assert held.ready() == ("e", second)  # third waits for second
    server.doc.apply_update(second)
    assert held.ready() == ("e", third)
    server.doc.apply_update(third)
    assert len(held) == 0 and held.ready() is None
    assert positions(server) == {"a": 7}


def test_a_release_integrates_all_that_follow_in_turn() -> None:
    server = FlowDoc()
    editor = Editor()
    first, *rest = editor.add("a"), editor.move("a", 5), editor.move("a", 7)
    held = held_in(server)
    for update in reversed(rest):
        assert held.hold("e", update)
    held.release()
    assert len(held) == 2
    server.doc.apply_update(first)
    held.release()
    assert len(held) == 0 and positions(server) == {"a": 7}


def test_held_updates_are_bounded() -> None:
    server = FlowDoc()
    editor = Editor()
    updates = [editor.add("a"), *(editor.move("a", x) for x in range(1, 6))]
    per_author = held_in(server, max_per_author=2)
    assert per_author.hold("e", updates[1]) and per_author.hold("e", updates[2])
    assert not per_author.hold("e", updates[3])
    assert per_author.hold("other", updates[3])
    assert per_author.drop("e") == 2 and len(per_author) == 1
    in_all = held_in(server, max_updates=2)
    assert in_all.hold("e", updates[1]) and in_all.hold("f", updates[2])
    assert not in_all.hold("g", updates[3])
    assert in_all.close() == 2 and len(in_all) == 0
    by_bytes = held_in(server, max_bytes=len(updates[1]))
    assert by_bytes.hold("e", updates[1])
    assert not by_bytes.hold("f", updates[2])


def room(options: CollabOptions | None = None) -> Room:
    options = options or CollabOptions()
    return Room("org", "flow", FlowDoc(), options=options, persistence=None, bridge=None)


async def joined(target: Room) -> tuple[Any, FakeTransport]:
    client, transport = make_client()
    target.join(client)
    target.receive(client, protocol.sync_step1(b"\x00"))
    await settle()
    transport.frames.clear()
    return client, transport


def received(transport: FakeTransport) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    for message in transport.messages():
        if isinstance(message, protocol.SyncStep2 | protocol.SyncUpdate):
            doc.apply_update(message.update)
    return doc


async def test_an_edit_ahead_of_its_predecessor_waits_for_it_and_both_go_out() -> None:
    live = room()
    (writer, _), (_, reader_t) = await joined(live), await joined(live)
    editor = Editor()
    first, second = editor.add("a"), editor.move("a", 5)
    # The move comes first (sent on a new socket before what the old one lost).
    live.receive(writer, protocol.sync_update(second))
    await live.drain()
    assert len(live.held) == 1
    assert live.flow.materialize()["nodes"] == []
    assert reader_t.frames == []
    assert not writer.in_order
    live.receive(writer, protocol.sync_step2(first))
    await live.drain()
    assert len(live.held) == 0 and writer.in_order
    assert positions(live.flow) == {"a": 5}
    assert received(reader_t).get("nodes", type=Map)["a"]["position"] == {"x": 5, "y": 0}
    fresh = FlowDoc.from_update(live.flow.doc.get_update()).materialize()
    assert canon(live.flow.materialize()) == canon(fresh)
    await live.close()


async def test_a_socket_in_order_is_not_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    live = room()
    writer, _ = await joined(live)
    editor = Editor()
    live.receive(writer, protocol.sync_update(editor.add("a")))
    assert writer.in_order
    checked: list[bytes] = []
    monkeypatch.setattr("minibase.collab.held_updates.order_of", lambda doc, u: checked.append(u))
    live.receive(writer, protocol.sync_update(editor.move("a", 3)))
    await live.drain()
    assert checked == [] and positions(live.flow) == {"a": 3}
    await live.close()


async def test_what_a_socket_held_is_dropped_when_it_leaves() -> None:
    live = room()
    writer, _ = await joined(live)
    editor = Editor()
    editor.add("a")
    live.receive(writer, protocol.sync_update(editor.move("a", 5)))
    assert len(live.held) == 1
    live.leave(writer)
    assert len(live.held) == 0
    await live.close()


async def test_beyond_the_bound_an_update_is_integrated_at_once() -> None:
    live = room(CollabOptions(max_held_per_socket=1))
    writer, _ = await joined(live)
    editor = Editor()
    first, second, third = editor.add("a"), editor.move("a", 5), editor.move("a", 7)
    live.receive(writer, protocol.sync_update(second))
    live.receive(writer, protocol.sync_update(third))  # yrs keeps it pending, as before
    assert len(live.held) == 1
    live.receive(writer, protocol.sync_update(first))
    await live.drain()
    assert len(live.held) == 0
    assert positions(live.flow) == {"a": 7}
    await live.close()


async def test_a_malformed_update_is_a_protocol_error_before_any_hold() -> None:
    live = room()
    writer, transport = await joined(live)
    with pytest.raises(protocol.ProtocolError):
        live.receive(writer, protocol.sync_update(b"\x01\x01\xff\xff"))
    assert len(live.held) == 0
    assert transport.closed is None
    await live.close()


async def test_an_edit_on_what_this_instance_has_not_caught_up_with_waits_for_it(
    settings: Settings,
) -> None:
    """The editor saw a node another instance added (it was connected there) before
    this instance caught up: its edit of that node is held until the catch-up."""
    options = CollabOptions(unload_delay=0.01, materialize_delay=0.01)
    flow_json = {"name": "F", "nodes": [node("a")], "edges": []}
    async with two_instances(settings, flow_json, options) as pair:
        c1, t1 = make_client()
        c2, _ = make_client()
        room1 = await pair.one.join(pair.org, pair.flow, c1)
        room2 = await pair.two.join(pair.org, pair.flow, c2)
        for target, client in ((room1, c1), (room2, c2)):
            target.receive(client, protocol.sync_step1(b"\x00"))
        await settle()
        there = Editor(room2.flow.doc.get_update())
        room2.receive(c2, protocol.sync_update(there.add("b", 1)))
        here = Editor(room2.flow.doc.get_update())
        room1.receive(c1, protocol.sync_update(here.move("b", 9)))  # no await in between
        assert len(room1.held) == 1
        for _ in range(500):
            await room2.drain()
            await room1.drain()
            if positions(room1.flow).get("b") == 9 and positions(room2.flow).get("b") == 9:
                break
            await asyncio.sleep(0.01)
        assert len(room1.held) == 0
        assert positions(room1.flow) == positions(room2.flow) == {"a": 0, "b": 9}
        assert received(t1).get("nodes", type=Map)["b"]["position"] == {"x": 9, "y": 0}


async def test_an_edit_on_another_sockets_unsent_node_is_released_after_it_comes() -> None:
    """Two tabs share edits locally (a BroadcastChannel); the second sends its edit of
    the first's node before the first sent the node itself."""
    live = room()
    (first_tab, _), (second_tab, _) = await joined(live), await joined(live)
    first = Editor()
    live.receive(first_tab, protocol.sync_update(first.add("t")))
    assert first_tab.in_order
    unsent = first.add("x", 1)
    second = Editor(first.doc.get_update())
    live.receive(second_tab, protocol.sync_update(second.move("x", 9)))
    assert len(live.held) == 1
    live.receive(first_tab, protocol.sync_update(unsent))
    assert len(live.held) == 1  # an in-order socket's update: released on the next pass
    for _ in range(100):
        if not len(live.held):
            break
        await asyncio.sleep(RELEASE_EVERY / 5)
    assert positions(live.flow) == {"t": 0, "x": 9}
    await live.close()


async def test_updates_that_never_follow_cost_one_pass_per_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live = room()
    (stranded, _), (busy, _) = await joined(live), await joined(live)
    lost = Editor()
    lost.add("gone")  # never sent: what follows it is ahead for good
    strays = [lost.move("gone", x) for x in range(CollabOptions().max_held_per_socket)]
    for update in strays:
        live.receive(stranded, protocol.sync_update(update))
    held = len(live.held)
    assert held == CollabOptions().max_held_per_socket
    checks: list[bytes] = []  # checks of the held updates (not of busy's first update)

    def counted(doc: Any, update: bytes, seed: bytes | None = None) -> Order:
        if update in strays:
            checks.append(update)
        return order_of(doc, update, seed)

    monkeypatch.setattr("minibase.collab.held_updates.order_of", counted)
    editor = Editor()
    live.receive(busy, protocol.sync_update(editor.add("a")))  # its first: checked, a pass
    assert len(checks) == held
    for x in range(50):
        live.receive(busy, protocol.sync_update(editor.move("a", x)))
    assert len(checks) == held  # none while the in-order socket's updates come
    for _ in range(100):
        if len(checks) >= 2 * held:
            break
        await asyncio.sleep(RELEASE_EVERY / 5)
    assert len(checks) == 2 * held  # then one pass for all of them
    assert len(live.held) == held
    await live.close()
