"""The rules check editors' updates once per batch, and nothing unchecked is ever seen."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pycrdt import Doc, Map

from minibase.collab import checks, protocol
from minibase.collab.client import Client
from minibase.collab.flow_doc import FlowDoc
from minibase.collab.options import CollabOptions
from minibase.collab.room import Room
from minibase.collab.rooms import RoomManager
from minibase.config import Settings
from minibase.domain.collab import CollabAccess, Limits
from minibase.domain.principal import Principal
from minibase.domain.roles import Role
from minibase.store.collab_log import CollabStore
from minibase.store.database import Database
from minibase.store.unit_of_work import Store
from tests.collab.fakes import MemoryBridge, create_flow
from tests.collab.test_room import FakeTransport, make_client, settle

ONLY_T = Limits(allowed_node_types=frozenset({"t"}))


def access(user: str, limits: Limits = ONLY_T) -> CollabAccess:
    principal = Principal(kind="user", id=user, credential_id=f"s-{user}", user_id=user)
    return CollabAccess(principal, Role.EDITOR, limits)


def add_node(doc: Doc[Any], key: str, node_type: str = "t") -> bytes:
    before = doc.get_state()
    doc.get("nodes", type=Map)[key] = Map(
        {"id": key, "type": node_type, "position": {"x": 0, "y": 0}}
    )
    return doc.get_update(before)


def rule_notes(transport: FakeTransport) -> list[list[str]]:
    """The ids each rule_violation notice told this client of."""
    return [
        [str(r["id"]) for r in m.payload["removed"]]  # type: ignore[attr-defined]
        for m in transport.messages()
        if isinstance(m, protocol.Notification) and m.payload.get("type") == "rule_violation"
    ]


def node_ids(room: Room) -> list[str]:
    return [str(n["id"]) for n in room.materialize()["nodes"]]


async def joined(room: Room, *accesses: CollabAccess) -> list[tuple[Client, FakeTransport]]:
    clients = [make_client(a) for a in accesses]
    for client, _ in clients:
        room.join(client)
        room.receive(client, protocol.sync_step1(b"\x00"))
    await settle()
    return clients


def plain_room(bridge: MemoryBridge | None = None) -> Room:
    return Room("org", "flow", FlowDoc(), options=CollabOptions(), persistence=None, bridge=bridge)


async def test_updates_integrated_together_are_checked_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0
    enforce = checks.enforce

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return enforce(*args, **kwargs)

    monkeypatch.setattr(checks, "enforce", counting)
    room = plain_room()
    writers = await joined(room, *[access("u1")] * 5)
    for i, (client, _) in enumerate(writers):
        room.receive(client, protocol.sync_update(add_node(Doc(), f"n{i}")))
    await room.drain()
    assert calls == 1
    assert node_ids(room) == [f"n{i}" for i in range(5)]


async def test_each_client_is_told_only_of_what_its_own_update_broke() -> None:
    room = plain_room()
    (good, good_t), (bad, bad_t) = await joined(room, access("u1"), access("u1"))
    room.receive(good, protocol.sync_update(add_node(Doc(), "fine")))
    room.receive(bad, protocol.sync_update(add_node(Doc(), "evil", "script")))
    await room.drain()
    await settle()
    assert node_ids(room) == ["fine"]
    assert rule_notes(bad_t) == [["evil"]]
    assert rule_notes(good_t) == []


async def test_a_removal_nobody_of_the_batch_touched_is_told_to_all_of_it() -> None:
    room = plain_room()
    (a, a_t), (b, b_t) = await joined(room, access("u1"), access("u1"))
    # A foreign root type: not an entry any client's update is recorded as touching.
    foreign: Doc[Any] = Doc()
    foreign.get("elsewhere", type=Map)["k"] = "v"
    room.receive(a, protocol.sync_update(foreign.get_update()))
    room.receive(b, protocol.sync_update(add_node(Doc(), "fine")))
    await room.drain()
    await settle()
    assert rule_notes(a_t) == [["elsewhere"]]
    assert rule_notes(b_t) == [["elsewhere"]]


async def test_authors_with_other_limits_or_another_identity_are_checked_apart() -> None:
    room = plain_room()
    loose = access("u1", Limits())
    (strict, strict_t), (lax, lax_t), (other, other_t) = await joined(
        room, access("u1"), loose, access("u2")
    )
    room.receive(strict, protocol.sync_update(add_node(Doc(), "s", "script")))
    room.receive(lax, protocol.sync_update(add_node(Doc(), "l", "script")))
    room.receive(other, protocol.sync_update(add_node(Doc(), "o", "script")))
    await room.drain()
    await settle()
    # The lax client's limits allow any type: its node stands, checked under its limits.
    assert node_ids(room) == ["l"]
    assert rule_notes(strict_t) == [["s"]]
    assert rule_notes(lax_t) == []
    assert rule_notes(other_t) == [["o"]]


async def test_nothing_unchecked_is_read_or_handed_over() -> None:
    bridge = MemoryBridge()
    bridge.flows[("org", "flow")] = {"name": "F", "nodes": [], "edges": []}
    room = plain_room(bridge)
    ((client, _),) = await joined(room, access("u1"))
    room.receive(client, protocol.sync_update(add_node(Doc(), "evil", "script")))
    # No drain, no turn of the loop: a REST read sees the document as checked.
    assert node_ids(room) == []
    room.receive(client, protocol.sync_update(add_node(Doc(), "kept")))
    room.materializer.flush()  # a hand-over right away holds only what the rules kept
    await bridge.wait_changes(1)
    assert [n["id"] for n in bridge.changes[0][2]["nodes"]] == ["kept"]
    await room.close()


async def test_new_entries_keep_the_order_their_updates_came_in() -> None:
    room = plain_room()
    ((client, _),) = await joined(room, access("u1"))
    for key in ("c", "a", "b"):
        room.receive(client, protocol.sync_update(add_node(Doc(), key)))
    await room.drain()
    assert node_ids(room) == ["c", "a", "b"]


async def test_a_catch_up_checks_local_edits_first_under_their_own_limits(
    settings: Settings,
) -> None:
    database = Database(settings)
    store = Store(database)
    try:
        bridge = MemoryBridge()
        org, flow = await create_flow(store, bridge, {"name": "F", "nodes": [], "edges": []})
        one = RoomManager(bridge, CollabStore(store), CollabOptions())
        two = RoomManager(bridge, CollabStore(store), CollabOptions())
        writer, _ = make_client(access("u1"))
        strict, strict_t = make_client(access("u2"))
        room1 = await one.join(org, flow, writer)
        room2 = await two.join(org, flow, strict)
        room2.receive(strict, protocol.sync_step1(b"\x00"))
        await settle()
        room1.receive(writer, protocol.sync_update(add_node(Doc(), "x")))
        await room1.drain()
        # Instance two integrates its client's bad node, and other instance's update
        # comes in before its batch is checked: the room's limits alone allow any type.
        room2.receive(strict, protocol.sync_update(add_node(Doc(), "evil", "script")))
        await room2.catch_up.run()
        await room2.drain()
        await settle()
        assert node_ids(room2) == ["x"]
        assert rule_notes(strict_t) == [["evil"]]
        await one.close()
        await two.close()
    finally:
        await database.close()


OPS = st.lists(
    st.tuples(
        st.integers(0, 2),  # which client
        st.sampled_from(["add", "delete", "edge"]),
        st.sampled_from(["a", "b", "c", "d", "e", "f"]),
        st.sampled_from(["t", "t", "script"]),  # a node's type
        st.sampled_from(["a", "b", "c", "d", "e", "f"]),  # an edge's target
        st.booleans(),  # drain after it (else it joins the next batch)
    ),
    max_size=25,
)


@given(OPS)
@hypothesis_settings(max_examples=40, deadline=None)
def test_batched_checks_keep_every_rule_whatever_the_batches(ops: list[Any]) -> None:
    asyncio.run(_run_ops(ops))


async def _run_ops(ops: list[Any]) -> None:
    options = CollabOptions(flow_limits=Limits(max_nodes=4, max_edges=3))
    room = Room("org", "flow", FlowDoc(), options=options, persistence=None, bridge=None)
    clients = await joined(room, access("u1"), access("u1"), access("u2"))
    for who, op, key, node_type, target, drain in ops:
        doc: Doc[Any] = Doc()
        doc.apply_update(room.flow.doc.get_update())
        before = doc.get_state()
        nodes, edges = doc.get("nodes", type=Map), doc.get("edges", type=Map)
        if op == "add":
            nodes[key] = Map({"id": key, "type": node_type, "position": {"x": 1, "y": 2}})
        elif op == "delete" and key in nodes:
            del nodes[key]
        elif op == "edge":
            edges[key + target] = {"id": key + target, "source": key, "target": target}
        room.receive(clients[who][0], protocol.sync_update(doc.get_update(before)))
        if drain:
            await room.drain()
    await room.drain()
    flow = room.materialize()
    ids = {n["id"] for n in flow["nodes"]}
    assert len(flow["nodes"]) <= 4 and len(flow["edges"]) <= 3
    assert all(n["type"] == "t" for n in flow["nodes"])
    assert all(e["source"] in ids and e["target"] in ids for e in flow["edges"])
    # Every client holds what the room holds: the compensations reached them all.
    for _, transport in clients:
        replica: Doc[Any] = Doc()
        for message in transport.messages():
            if isinstance(message, protocol.SyncStep2 | protocol.SyncUpdate):
                replica.apply_update(message.update)
        assert set(replica.get("nodes", type=Map).keys()) == ids
    await room.close()
