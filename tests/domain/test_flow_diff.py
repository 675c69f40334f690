"""Flow diffs: ids and fields per entity, the summary counts, the detailed JSON body."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import given

from minibase.domain.flow_diff import diff_flows, summarize
from tests.domain.strategies import flows, properties


def node(ident: str, x: float = 0, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "type": "llm", "position": {"x": x, "y": 0}, **extra}


A = {
    "name": "F",
    "nodes": [node("a", data={"label": "A", "k": 1}), node("b"), node("c", width=3)],
    "edges": [{"id": "e1", "source": "a", "target": "b"}],
}
B = {
    "name": "G",
    "nodes": [node("c"), node("a", x=5, data={"label": "AA", "k": 1, "new": None}), node("d")],
    "edges": [{"id": "e2", "source": "a", "target": "d", "animated": True}],
}


def test_ids_and_fields() -> None:
    diff = diff_flows(A, B)
    assert diff.nodes.added_ids == ["d"]
    assert diff.nodes.removed_ids == ["b"]
    assert diff.nodes.changed_fields == {
        "c": ["width"],
        "a": ["position", "data.label", "data.new"],
    }
    assert diff.nodes.reordered
    assert diff.edges.added_ids == ["e2"] and diff.edges.removed_ids == ["e1"]
    assert not diff.edges.reordered
    assert summarize(diff) == {
        "nodesAdded": 1,
        "nodesRemoved": 1,
        "nodesChanged": 2,
        "edgesAdded": 1,
        "edgesRemoved": 1,
        "edgesChanged": 0,
    }


def test_detailed_json() -> None:
    body = diff_flows(A, B).to_json()
    assert body["name"] == {"from": "F", "to": "G"}
    assert body["nodes"]["added"] == [node("d")]
    assert body["nodes"]["removed"] == [node("b")]
    assert body["nodes"]["changed"] == [
        {"id": "c", "changes": [{"field": "width", "from": 3}]},
        {
            "id": "a",
            "changes": [
                {"field": "position", "from": {"x": 0, "y": 0}, "to": {"x": 5, "y": 0}},
                {"field": "data.label", "from": "A", "to": "AA"},
                {"field": "data.new", "to": None},
            ],
        },
    ]
    assert body["summary"]["nodesChanged"] == 2
    assert orjson.loads(orjson.dumps(body)) == body


def test_whole_data_field_when_not_an_object_on_both_sides() -> None:
    diff = diff_flows({"nodes": [node("a")]}, {"nodes": [node("a", data={})]})
    assert diff.nodes.changed[0].to_json() == {"id": "a", "changes": [{"field": "data", "to": {}}]}


def test_key_order_and_int_float_are_no_change_but_bool_is() -> None:
    a = {"nodes": [{"id": "a", "type": "t", "position": {"x": 1, "y": 2}, "data": {"v": 1}}]}
    b = {"nodes": [{"position": {"y": 2.0, "x": 1.0}, "type": "t", "id": "a", "data": {"v": 1}}]}
    assert diff_flows(a, b).is_empty
    c = copy.deepcopy(a)
    c["nodes"][0]["data"]["v"] = True
    assert diff_flows(a, c).nodes.changed_fields == {"a": ["data.v"]}


def test_name_added_or_removed() -> None:
    assert diff_flows({}, {"name": "x"}).to_json()["name"] == {"to": "x"}
    assert diff_flows({"name": "x"}, {"name": "x"}).name is None


def apply_json(a: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Replay a detailed diff on ``a`` (entity content only; order is not in the diff)."""
    out: dict[str, Any] = {}
    for key in ("nodes", "edges"):
        part = body[key]
        removed = {e["id"] for e in part["removed"]}
        items = {e["id"]: copy.deepcopy(e) for e in a.get(key, []) if e["id"] not in removed}
        for change in part["changed"]:
            entity = items[change["id"]]
            for c in change["changes"]:
                target, field = entity, c["field"]
                if field.startswith("data."):
                    target, field = entity["data"], field[5:]
                if "to" in c:
                    target[field] = c["to"]
                else:
                    del target[field]
        items.update({e["id"]: e for e in part["added"]})
        out[key] = items
    return out


@properties()
@given(flows(), flows())
def test_diff_replays_and_mirrors(a: dict[str, Any], b: dict[str, Any]) -> None:
    diff = diff_flows(a, b)
    body = diff.to_json()
    assert orjson.loads(orjson.dumps(body)) == body
    replayed = apply_json(a, body)
    for key in ("nodes", "edges"):
        assert replayed[key] == {e["id"]: e for e in b[key]}
    back = diff_flows(b, a)
    assert back.nodes.added_ids == diff.nodes.removed_ids
    assert back.edges.removed_ids == diff.edges.added_ids
    assert {k: set(v) for k, v in back.nodes.changed_fields.items()} == {
        k: set(v) for k, v in diff.nodes.changed_fields.items()
    }
    same = diff_flows(a, copy.deepcopy(a))
    assert same.is_empty and set(summarize(same).values()) == {0}
