from __future__ import annotations

from typing import Any

from pycrdt import Doc, Map

from minibase.collab.flow_doc import FlowDoc
from minibase.collab.rules import enforce
from minibase.domain.collab import Limits
from tests.collab.fakes import edge, node

BASE = {"name": "F", "nodes": [node("a"), node("b")], "edges": [edge("ab", "a", "b")]}


def setup() -> tuple[FlowDoc, FlowDoc]:
    server = FlowDoc()
    server.apply_flow(BASE)
    server.refresh()
    client_doc: Doc[Any] = Doc()
    client_doc.apply_update(server.doc.get_update())
    return server, FlowDoc(client_doc)


def integrate(server: FlowDoc, client: FlowDoc, limits: Limits) -> list[tuple[str, str, str]]:
    update = client.doc.get_update(server.doc.get_state())
    server.doc.apply_update(update)
    _, removals = enforce(server, limits, origin="rules")
    client.doc.apply_update(server.doc.get_update(client.doc.get_state()))
    client.refresh()
    return [(r.kind, r.id, r.reason) for r in removals]


def test_valid_update_is_untouched() -> None:
    server, client = setup()
    client.nodes["c"] = Map({"id": "c", "type": "x", "position": {"x": 1, "y": 2}})
    assert integrate(server, client, Limits()) == []
    assert "c" in server.nodes


def test_malformed_and_disallowed_nodes_removed_rest_stands() -> None:
    server, client = setup()
    with client.doc.transaction():
        client.nodes["ok"] = Map({"id": "ok", "type": "x", "position": {"x": 1, "y": 2}})
        client.nodes["wrongid"] = Map({"id": "other", "type": "x", "position": {"x": 1, "y": 2}})
        client.nodes["badpos"] = {"id": "badpos", "type": "x", "position": {"x": "1", "y": 2}}
        client.nodes["notype"] = Map({"id": "notype", "position": {"x": 1, "y": 2}})
        client.nodes["scalar"] = 5
        client.nodes["evil"] = Map({"id": "evil", "type": "evil", "position": {"x": 1, "y": 2}})
        client.nodes["a"]["data"]["label"] = "kept"
    removed = integrate(server, client, Limits(allowed_node_types=frozenset({"x", "default"})))
    assert sorted(removed) == [
        ("node", "badpos", "malformed"),
        ("node", "evil", "node_type_not_allowed"),
        ("node", "notype", "malformed"),
        ("node", "scalar", "malformed"),
        ("node", "wrongid", "malformed"),
    ]
    assert set(client.nodes.keys()) == {"a", "b", "ok"}
    assert client.materialize()["nodes"][0]["data"] == {"label": "kept"}


def test_max_nodes_removes_newest() -> None:
    server, client = setup()
    with client.doc.transaction():
        for key in ("c", "d", "e"):
            client.nodes[key] = Map({"id": key, "type": "x", "position": {"x": 0, "y": 0}})
    removed = integrate(server, client, Limits(max_nodes=3))
    assert removed == [("node", "e", "max_nodes"), ("node", "d", "max_nodes")]
    assert set(server.nodes.keys()) == {"a", "b", "c"}


def test_edges_to_missing_nodes_and_concurrent_delete() -> None:
    server, alice = setup()
    bob_doc: Doc[Any] = Doc()
    bob_doc.apply_update(server.doc.get_update())
    bob = FlowDoc(bob_doc)
    # Alice deletes b (and its edge); Bob concurrently adds an edge a -> b.
    with alice.doc.transaction():
        del alice.nodes["b"]
        del alice.edges["ab"]
    bob.edges["ab2"] = Map({"id": "ab2", "source": "a", "target": "b"})
    bob.edges["ghost"] = {"id": "ghost", "source": "a", "target": "nowhere"}
    assert integrate(server, alice, Limits()) == []
    assert sorted(integrate(server, bob, Limits())) == [
        ("edge", "ab2", "missing_node"),
        ("edge", "ghost", "missing_node"),
    ]
    # The other order: Bob's edge first (accepted), then Alice's delete leaves it dangling.
    server, alice = setup()
    bob_doc = Doc()
    bob_doc.apply_update(server.doc.get_update())
    bob = FlowDoc(bob_doc)
    with alice.doc.transaction():
        del alice.nodes["b"]
        del alice.edges["ab"]
    bob.edges["ab2"] = Map({"id": "ab2", "source": "a", "target": "b"})
    assert integrate(server, bob, Limits()) == []
    assert integrate(server, alice, Limits()) == [("edge", "ab2", "missing_node")]
    assert len(server.edges) == 0


def test_size_limit_removes_what_pushed_it_over() -> None:
    server, client = setup()
    limit = server.size_bytes + 200
    with client.doc.transaction():
        client.nodes["small"] = Map({"id": "small", "type": "x", "position": {"x": 0, "y": 0}})
        client.nodes["huge"] = Map(
            {
                "id": "huge",
                "type": "x",
                "position": {"x": 0, "y": 0},
                "data": Map({"blob": "x" * 5000}),
            }
        )
    removed = integrate(server, client, Limits(max_doc_bytes=limit))
    assert ("node", "huge", "max_doc_bytes") in removed
    assert "small" in server.nodes
    assert server.size_bytes <= limit


def test_limits_tighten() -> None:
    a = Limits(max_nodes=10, allowed_node_types=frozenset({"x", "y"}))
    b = Limits(max_nodes=5, max_edges=3, allowed_node_types=frozenset({"y", "z"}))
    assert a.tighten(b) == Limits(
        max_nodes=5, max_edges=3, allowed_node_types=frozenset({"y"}), max_doc_bytes=None
    )
    assert Limits().tighten(Limits()) == Limits()
