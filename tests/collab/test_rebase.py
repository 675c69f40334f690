"""Rebasing a flow's Yjs state: the same content, no history, old documents converge."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pycrdt import Array, Doc, Map, Text

from minibase.collab.rebase import (
    FIRST_WRITER,
    NotRebasable,
    collected,
    collected_state,
    rebase,
    rebaser,
    state_vector,
)
from minibase.config import Settings
from minibase.domain.principal import SYSTEM
from minibase.store.collab_log import CollabStore
from minibase.store.database import Database
from minibase.store.tables import organizations
from minibase.store.unit_of_work import Store
from tests.collab.fakes import MemoryBridge, create_flow, node


def _sync(a: Doc[Any], b: Doc[Any]) -> None:
    a.apply_update(b.get_update(a.get_state()))
    b.apply_update(a.get_update(b.get_state()))


def _content(doc: Doc[Any]) -> dict[str, Any]:
    return {name: doc.get(name, type=Map).to_py() for name in ("nodes", "edges", "meta")}


def _dragged(clients: int = 5, drags: int = 400) -> tuple[Doc[Any], list[Doc[Any]]]:
    """A server document and its clients, which took turns dragging node a."""
    seed: Doc[Any] = Doc()
    with seed.transaction():
        nodes = seed.get("nodes", type=Map)
        nodes["a"] = Map({"id": "a", "position": {"x": 0, "y": 0}, "data": Map({"label": "A"})})
        nodes["b"] = Map({"id": "b", "position": {"x": 9, "y": 9}, "data": Map({})})
        nodes["plain"] = {"id": "plain", "position": {"x": 1, "y": 2}, "data": {"k": [1, 2]}}
        nodes["list"] = Map({"id": "list", "tags": Array(["x", "y"]), "note": Text("hi")})
        seed.get("edges", type=Map)["e"] = {"id": "e", "source": "a", "target": "b"}
        seed.get("meta", type=Map)["name"] = "Flow"
    server: Doc[Any] = Doc()
    server.apply_update(seed.get_update())
    docs: list[Doc[Any]] = []
    for _ in range(clients):
        doc: Doc[Any] = Doc()
        doc.apply_update(server.get_update())
        docs.append(doc)
    for i in range(drags):
        doc = docs[i % clients]
        doc.apply_update(server.get_update(doc.get_state()))
        before = doc.get_state()
        doc.get("nodes", type=Map)["a"]["position"] = {"x": i, "y": i}
        server.apply_update(doc.get_update(before))
    for doc in docs:
        doc.apply_update(server.get_update(doc.get_state()))
    return server, docs


def test_a_rebase_keeps_the_content_in_its_form_and_drops_the_history() -> None:
    server, _ = _dragged()
    state = server.get_update()
    rebased: Doc[Any] = Doc()
    rebased.apply_update(rebase(state))
    assert _content(rebased) == _content(server)
    nodes = rebased.get("nodes", type=Map)
    assert isinstance(nodes["a"], Map) and isinstance(nodes["a"]["data"], Map)
    assert isinstance(nodes["plain"], dict)
    assert isinstance(nodes["list"]["tags"], Array) and isinstance(nodes["list"]["note"], Text)
    assert len(rebased.get_update()) * 4 < len(state)
    # Every old client's clocks are still there (as collected ranges), and the content
    # is written by one new client above them all (pycrdt draws ids below 2**53).
    old, new = state_vector(server), state_vector(rebased)
    assert {c: n for c, n in new.items() if c in old} == old
    (writer,) = set(new) - set(old)
    assert writer == max(FIRST_WRITER, max(old) + 1)


def test_old_documents_converge_with_the_rebased_one() -> None:
    server, clients = _dragged()
    rebased: Doc[Any] = Doc()
    rebased.apply_update(rebase(server.get_update()))
    expected = _content(server)
    synced, offline = clients[0], clients[1]
    # Offline against the old document: a new node is kept, a moved old node is not.
    offline.get("nodes", type=Map)["new"] = Map({"id": "new", "position": {"x": 5, "y": 5}})
    offline.get("nodes", type=Map)["b"]["position"] = {"x": -1, "y": -1}
    for doc in (synced, offline, synced):
        _sync(doc, rebased)
    assert _content(synced) == _content(rebased) == _content(offline)
    assert _content(rebased)["nodes"]["b"] == expected["nodes"]["b"]
    assert _content(rebased)["nodes"]["new"] == {"id": "new", "position": {"x": 5, "y": 5}}
    # An old client's next edit, made on the rebased entries, reaches everyone.
    synced.get("nodes", type=Map)["a"]["position"] = {"x": 77, "y": 7}
    for doc in (synced, offline, synced):
        _sync(doc, rebased)
    assert _content(offline)["nodes"]["a"]["position"] == {"x": 77, "y": 7}
    assert _content(rebased) == _content(offline) == _content(synced)


def test_a_second_rebase_still_reaches_documents_of_the_first_epoch() -> None:
    server, clients = _dragged()
    first: Doc[Any] = Doc()
    first.apply_update(rebase(server.get_update()))
    second: Doc[Any] = Doc()
    second.apply_update(rebase(first.get_update()))
    (writer,) = set(state_vector(first)) - set(state_vector(server))
    assert set(state_vector(second)) - set(state_vector(first)) == {writer + 1}
    _sync(clients[2], second)
    assert _content(clients[2]) == _content(second) == _content(server)


def test_what_a_rebase_cannot_carry_keeps_the_state() -> None:
    doc: Doc[Any] = Doc()
    doc.get("nodes", type=Map)["a"] = Map({"id": "a"})
    doc.get("other", type=Map)["x"] = 1
    with pytest.raises(NotRebasable):
        rebase(doc.get_update())
    assert rebaser(0)(doc.get_update()) is None
    styled: Doc[Any] = Doc()
    text = Text("bold")
    styled.get("nodes", type=Map)["a"] = Map({"note": text})
    text.format(0, 2, {"bold": True})
    with pytest.raises(NotRebasable):
        rebase(styled.get_update())


def test_the_rebaser_acts_only_on_large_states_it_halves() -> None:
    server, _ = _dragged()
    state = server.get_update()
    assert rebaser(len(state))(state) is None  # not over the size
    assert rebaser(0)(state) is not None
    fresh: Doc[Any] = Doc()
    fresh.get("nodes", type=Map)["a"] = Map({"id": "a", "data": Map({"x": "y" * 1000})})
    assert rebaser(0)(fresh.get_update()) is None  # nothing to gain: no history


async def test_the_store_rebases_only_an_idle_snapshot(settings: Settings) -> None:
    database = Database(settings)
    store = Store(database)
    try:
        bridge = MemoryBridge()
        org, flow = await create_flow(
            store, bridge, {"name": "F", "nodes": [node("a")], "edges": []}
        )
        cs = CollabStore(store)
        server, _ = _dragged()
        await cs.append(org, flow, server.get_update(), SYSTEM)
        assert await cs.compact(org, flow) is not None
        stored = await cs.load(org, flow)
        assert stored.snapshot is not None and stored.snapshot_at is not None
        big = len(stored.snapshot)

        async def used() -> int:
            async with store.tenant(org, SYSTEM) as uow:
                query = uow.select(organizations, organizations.c.storage_used)
                return int((await uow.execute(query)).scalar_one())

        before = await used()
        # Changed after the cut-off: kept.
        assert not await cs.rebase(org, flow, rebaser(0), unchanged_since=stored.snapshot_at - 1)
        # A row after the snapshot: kept (the room would have it to fold in first).
        extra: Doc[Any] = Doc()
        extra.get("nodes", type=Map)["z"] = Map({"id": "z"})
        await cs.append(org, flow, extra.get_update(), SYSTEM)
        assert not await cs.rebase(org, flow, rebaser(0), unchanged_since=stored.snapshot_at)
        assert await cs.compact(org, flow) is not None
        stored = await cs.load(org, flow)
        assert stored.snapshot_at is not None
        assert await cs.rebase(org, flow, rebaser(0), unchanged_since=stored.snapshot_at)
        rebased = await cs.load(org, flow)
        assert rebased.snapshot is not None and len(rebased.snapshot) * 4 < big
        loaded: Doc[Any] = Doc()
        loaded.apply_update(rebased.snapshot)
        expected: Doc[Any] = Doc()
        assert stored.snapshot is not None
        expected.apply_update(stored.snapshot)
        assert _content(loaded) == _content(expected)
        assert await used() < before  # the storage count follows the smaller snapshot
    finally:
        await database.close()


def test_collected_state_is_collected_of_the_decoded_state_vector() -> None:
    rng = random.Random(7)
    for clients in (0, 1, 3, 200):
        doc: Doc[Any] = Doc()
        for _ in range(clients):
            writer: Doc[Any] = Doc(
                client_id=rng.choice([1, 127, 128, 2**32, 2**53 - 1, rng.randrange(2**53)])
            )
            writer.apply_update(doc.get_update())
            writer.get("nodes", type=Map)[str(rng.random())] = "x" * rng.randrange(1, 300)
            doc.apply_update(writer.get_update(doc.get_state()))
        fast: Doc[Any] = Doc()
        fast.apply_update(collected_state(doc.get_state()))
        plain_way: Doc[Any] = Doc()
        plain_way.apply_update(collected(state_vector(doc)))
        assert state_vector(fast) == state_vector(plain_way) == state_vector(doc)
        assert fast.get_update() == plain_way.get_update()
