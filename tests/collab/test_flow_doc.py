from __future__ import annotations

from typing import Any

import pytest
from pycrdt import Doc, Map

from minibase.collab.flow_doc import FlowDoc
from tests.collab.fakes import canon, edge, node

FLOW = {
    "name": "F",
    "nodes": [node("n2", 1, 2, label="two"), node("n1", 0, 0), node("n10", 5, 5)],
    "edges": [edge("e", "n1", "n2")],
}


def replica(flow: FlowDoc) -> FlowDoc:
    doc: Doc[Any] = Doc()
    doc.apply_update(flow.doc.get_update())
    return FlowDoc(doc)


def test_apply_flow_writes_server_form_and_materializes_in_flow_order() -> None:
    f = FlowDoc()
    assert f.apply_flow(FLOW)
    assert f.materialize() == FLOW
    entry = f.nodes["n2"]
    assert isinstance(entry, Map) and isinstance(entry["data"], Map)
    assert isinstance(entry["position"], dict)
    assert f.apply_flow(FLOW) == b""


def test_apply_flow_is_minimal() -> None:
    f = FlowDoc()
    f.apply_flow(FLOW)
    other = replica(f)
    changed = {**FLOW, "nodes": [node("n2", 1, 2, label="TWO"), *FLOW["nodes"][1:]]}
    update = f.apply_flow(changed)
    assert len(update) < 60
    touched: list[Any] = []
    other.nodes.observe_deep(lambda events: touched.extend((e.path, dict(e.keys)) for e in events))
    other.doc.apply_update(update)
    assert [(path, list(keys)) for path, keys in touched] == [(["n2", "data"], ["label"])]
    assert {n["id"]: n for n in other.materialize()["nodes"]}["n2"] == changed["nodes"][0]


def test_removed_entries_and_renames() -> None:
    f = FlowDoc()
    f.apply_flow(FLOW)
    smaller = {"name": "G", "nodes": FLOW["nodes"][:2], "edges": []}
    f.apply_flow(smaller)
    assert f.materialize() == smaller
    assert "n10" not in f.nodes and len(f.edges) == 0


def test_client_form_is_kept_for_untouched_entries() -> None:
    f = FlowDoc()
    f.apply_flow(FLOW)
    f.nodes["plain"] = {"id": "plain", "type": "t", "position": {"x": 1, "y": 1}, "data": {}}
    flow = f.materialize()
    flow = {
        **flow,
        "nodes": [
            {**n, "position": {"x": 9, "y": 9}} if n["id"] == "n1" else n for n in flow["nodes"]
        ],
    }
    f.apply_flow(flow)
    assert isinstance(f.nodes["plain"], dict)
    flow["nodes"] = [{**n, "type": "u"} if n["id"] == "plain" else n for n in flow["nodes"]]
    f.apply_flow(flow)
    assert isinstance(f.nodes["plain"], dict) and f.nodes["plain"]["type"] == "u"


def test_incremental_view_follows_remote_updates_and_integers() -> None:
    f = FlowDoc()
    f.apply_flow(FLOW)
    client = replica(f)
    client.nodes["n1"]["position"] = {"x": 3, "y": 4.5}
    client.nodes["n1"]["data"]["label"] = "one"
    del client.nodes["n10"]
    client.nodes["n0"] = Map({"id": "n0", "type": "t", "position": {"x": 0, "y": 0}})
    state = f.doc.get_state()
    f.doc.apply_update(client.doc.get_update(state))
    changes = f.refresh()
    assert changes.nodes_changed == ["n1"] and changes.nodes_removed == ["n10"]
    assert changes.nodes_added == ["n0"]
    flow = f.materialize()
    assert [n["id"] for n in flow["nodes"]] == ["n2", "n1", "n0"]
    n1 = flow["nodes"][1]
    assert n1["position"] == {"x": 3, "y": 4.5} and type(n1["position"]["x"]) is int
    assert n1["data"] == {"label": "one"}


def test_order_hint_on_load() -> None:
    f = FlowDoc()
    f.apply_flow(FLOW)
    g = FlowDoc.from_update(f.doc.get_update(), order_hint={"nodes": [{"id": "n10"}], "edges": []})
    assert [n["id"] for n in g.materialize()["nodes"]] == ["n10", "n1", "n2"]
    assert FlowDoc.from_update(f.doc.get_update(), FLOW).materialize() == FLOW


def test_edge_index() -> None:
    f = FlowDoc()
    f.apply_flow(FLOW)
    assert f.edges_of("n1") == {"e"} and f.edges_of("n2") == {"e"}
    f.edges["e"] = {"id": "e", "source": "n10", "target": "n2"}
    f.refresh()
    assert f.edges_of("n1") == set() and f.edges_of("n10") == {"e"}


def test_a_change_inside_an_entry_refreshes_only_that_key_and_equals_a_full_read() -> None:
    from pycrdt import Array

    from minibase.collab.flow_doc import UNREPRESENTABLE

    f = FlowDoc()
    f.apply_flow(FLOW)
    client: Doc[Any] = Doc()
    client.apply_update(f.doc.get_update())
    entry = client.get("nodes", type=Map)["n2"]

    def send(change: Any) -> None:
        before = client.get_state()
        change()
        f.doc.apply_update(client.get_update(before))
        f.refresh()
        # The cached view equals what reading every entry afresh gives.
        assert f.node_view.values == replica(f).node_view.values

    send(lambda: entry.__setitem__("position", {"x": 7.0, "y": 8.5}))  # a drag
    assert f.node_view.values["n2"]["position"] == {"x": 7, "y": 8.5}
    send(lambda: entry["data"].__setitem__("label", "renamed"))  # deeper: inside data
    send(lambda: entry["data"].__setitem__("tags", Array(["a"])))
    send(lambda: entry["data"]["tags"].append("b"))  # deeper still: an array in data
    assert f.node_view.values["n2"]["data"]["tags"] == ["a", "b"]
    send(lambda: entry.__setitem__("width", 120))  # a new key
    send(lambda: entry.pop("width"))  # a removed key
    assert "width" not in f.node_view.values["n2"]
    send(lambda: entry.__setitem__("bad\x00key", 1))  # what REST refuses: the whole entry
    assert f.node_view.values["n2"] == UNREPRESENTABLE
    send(lambda: entry.pop("bad\x00key"))
    assert f.node_view.values["n2"]["data"]["label"] == "renamed"
    send(lambda: entry.__setitem__("position", {"x": 1, "y": 2, "m": "a\x00b"}))  # in a value
    assert f.node_view.values["n2"] == UNREPRESENTABLE
    # The text a NUL is written as in JSON, but no NUL: kept.
    send(lambda: entry.__setitem__("position", {"x": 1, "y": 2, "m": "\\u0000"}))
    assert f.node_view.values["n2"]["position"]["m"] == "\\u0000"


def test_a_sequence_entry_changed_in_place_is_read_whole() -> None:
    """An entry that is a Y.Array: its events carry no keys, so the whole entry is read."""
    from pycrdt import Array

    f = FlowDoc()
    f.apply_flow(FLOW)
    client: Doc[Any] = Doc()
    client.apply_update(f.doc.get_update())
    nodes = client.get("nodes", type=Map)
    before = client.get_state()
    nodes["odd"] = Array([1])
    f.doc.apply_update(client.get_update(before))
    f.refresh()
    before = client.get_state()
    nodes["odd"].append(2)
    f.doc.apply_update(client.get_update(before))
    assert f.refresh().nodes_changed == ["odd"]
    assert f.node_view.values["odd"] == [1, 2] == replica(f).node_view.values["odd"]


def test_a_closed_flow_doc_stops_observing() -> None:
    f = FlowDoc()
    f.apply_flow(FLOW)
    f.close()
    f.close()  # twice is harmless
    f.nodes["n1"]["position"] = {"x": 9, "y": 9}
    assert not f.refresh()


def test_the_refresh_reads_entries_as_pycrdt_does() -> None:
    """The refresh's fast reader gives what ``Map[key]`` gives, for every kind of value."""
    from pycrdt import Array, Text

    from minibase.collab.flow_doc import _MISSING, _lookup, entry_reader, plain

    doc: Doc[Any] = Doc()
    ymap = doc.get("nodes", type=Map)
    values: dict[str, Any] = {
        "map": Map({"id": "m", "data": Map({"a": 1})}),
        "array": Array([1, "two"]),
        "text": Text("hi"),
        "object": {"x": 1.5, "nested": {"k": [1, 2]}},
        "list": [1, {"a": None}],
        "string": "s",
        "number": 2.0,
        "flag": True,
        "null": None,
    }
    for key, value in values.items():
        ymap[key] = value
    with doc.transaction() as txn:
        read = entry_reader(txn)
        assert read is not _lookup  # the fast path, on the pycrdt this project locks
        for key in [*values, "absent"]:
            fast, public = read(ymap, key), _lookup(ymap, key)
            assert type(fast) is type(public), key
            if public is _MISSING:
                assert fast is _MISSING
            else:
                assert plain(fast) == plain(public), key
        assert plain(read(read(ymap, "map"), "data")) == {"a": 1}


def test_without_pycrdt_internals_the_refresh_reads_through_the_public_api() -> None:
    from minibase.collab.flow_doc import _lookup, entry_reader

    class Opaque:  # a transaction without the internals the fast path needs
        pass

    assert entry_reader(Opaque()) is _lookup  # type: ignore[arg-type]


def test_an_entry_deleted_after_arriving_ahead_of_its_clients_earlier_update_leaves() -> None:
    """yrs integrates an update whose predecessor from the same client is missing (a
    client's edit sent before what its previous socket lost) and keeps that client's
    clock behind it; deleting the entry then gives an event without keys. The cache must
    still drop it (it kept the entry for good: a flaky randomized convergence test)."""
    flow = FlowDoc()
    flow.apply_flow({"name": "F", "nodes": [node("x")], "edges": []})
    client: Doc[Any] = Doc()
    client.apply_update(flow.doc.get_update())
    updates: list[bytes] = []
    client.observe(lambda event: updates.append(event.update))
    nodes = client.get("nodes", type=Map)
    edges = client.get("edges", type=Map)
    nodes["a"] = Map({"id": "a", "type": "default", "position": {"x": 1, "y": 1}})
    nodes["b"] = Map({"id": "b", "type": "default", "position": {"x": 2, "y": 2}})
    edges["b-x"] = {"id": "b-x", "source": "b", "target": "x"}
    flow.doc.apply_update(updates[2])  # ahead of the two before it
    flow.doc.apply_update(updates[1])
    assert sorted(n["id"] for n in flow.materialize()["nodes"]) == ["b", "x"]
    assert [e["id"] for e in flow.materialize()["edges"]] == ["b-x"]
    with flow.doc.transaction():  # what the rules' compensation does
        del flow.nodes["b"]
        del flow.edges["b-x"]
    changes = flow.refresh()
    assert changes.nodes_removed == ["b"] and changes.edges_removed == ["b-x"]
    assert flow.materialize() == replica(flow).materialize()
    assert flow.edges_of("b") == set()
    flow.doc.apply_update(updates[0])  # the late one: "a" comes, nothing else returns
    assert sorted(n["id"] for n in flow.materialize()["nodes"]) == ["a", "x"]
    fresh = replica(flow).materialize()
    for kind in ("nodes", "edges"):  # the same entries (a replica orders new ones by id)
        mine = sorted(flow.materialize()[kind], key=lambda e: str(e["id"]))
        assert mine == sorted(fresh[kind], key=lambda e: str(e["id"]))


def test_integrate_applies_an_update_as_apply_update_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The room's fast path (yrs's transaction driven directly): the same document, the
    same events, the same errors as ``Doc.apply_update``; the public call inside a
    transaction or without pycrdt's internals."""
    source = FlowDoc()
    updates: list[bytes] = []
    source.doc.observe(lambda event: updates.append(event.update))
    source.apply_flow(FLOW)
    with source.doc.transaction():
        source.meta["name"] = "G"  # through the meta observer, a pycrdt-wrapped one
        source.nodes["n1"]["position"] = {"x": 9, "y": 9}
    fast, public = FlowDoc(), FlowDoc()
    calls: list[object] = []
    monkeypatch.setattr(
        public.doc, "apply_update", lambda u: calls.append(u) or Doc.apply_update(public.doc, u)
    )
    monkeypatch.setattr(fast.doc, "apply_update", lambda u: pytest.fail("not the fast path"))
    for update in updates:
        fast.integrate(update)
        with public.doc.transaction():  # inside one: the public call
            public.integrate(update)
    assert len(calls) == len(updates)
    assert canon(fast.materialize()) == canon(public.materialize()) == canon(source.materialize())
    assert fast.materialize()["name"] == "G"

    # A refused update: what apply_update raises, and the document goes on.
    with pytest.raises(ValueError):
        fast.integrate(b"\x05garbage")
    # An observer's failure comes out after the commit, as pycrdt raises it.
    fast.doc.observe(lambda event: 1 / 0)
    with pytest.raises(ExceptionGroup) as raised:
        fast.integrate(replica_edit(fast))
    assert isinstance(raised.value.exceptions[0], ZeroDivisionError)
    assert "late" in fast.nodes


def replica_edit(flow: FlowDoc) -> bytes:
    doc: Doc[Any] = Doc()
    doc.apply_update(flow.doc.get_update())
    before = doc.get_state()
    doc.get("nodes", type=Map)["late"] = Map(
        {"id": "late", "type": "t", "position": {"x": 0, "y": 0}}
    )
    return doc.get_update(before)
