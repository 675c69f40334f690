"""Three-way merge: each rule by example, then the algebraic properties."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from minibase.domain.json_values import MISSING, Missing, json_equal
from minibase.domain.merge import merge_flows
from tests.domain.strategies import disjoint_edits, edited, flows, properties


def node(ident: str, x: float = 0, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "type": "llm", "position": {"x": x, "y": 0}, **extra}


def edge(ident: str, source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "source": source, "target": target, **extra}


def flow(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None, name: str = "F"
) -> dict[str, Any]:
    return {"name": name, "nodes": list(nodes), "edges": list(edges or [])}


def by_id(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": doc.get("name"),
        "nodes": {n["id"]: n for n in doc["nodes"]},
        "edges": {e["id"]: e for e in doc["edges"]},
    }


def test_changes_to_different_nodes_and_fields_all_survive() -> None:
    base = flow([node("a", data={"label": "A", "n": 1}), node("b")])
    current = flow([node("a", x=5, data={"label": "A", "n": 1}), node("b", width=10)])
    incoming = flow([node("a", data={"label": "AA", "n": 1}), node("b", x=7)])
    result = merge_flows(base, current, incoming)
    assert result.conflicts == [] and result.dropped_edges == []
    assert result.flow_doc == flow(
        [node("a", x=5, data={"label": "AA", "n": 1}), {**node("b", x=7), "width": 10}]
    )


def test_data_keys_merge_one_by_one() -> None:
    base = flow([node("a", data={"k1": 1, "k2": 2, "k3": 3})])
    current = flow([node("a", data={"k1": 10, "k2": 2})])  # k1 changed, k3 removed
    incoming = flow([node("a", data={"k1": 1, "k2": 20, "k3": 3, "k4": 4})])
    result = merge_flows(base, current, incoming)
    assert result.conflicts == []
    assert result.flow_doc["nodes"][0]["data"] == {"k1": 10, "k2": 20, "k4": 4}


def test_same_field_changed_on_both_sides_request_wins_and_is_reported() -> None:
    base = flow([node("a", data={"label": "A"})], name="old")
    current = flow([node("a", x=1, data={"label": "cur"})], name="server")
    incoming = flow([node("a", x=2, data={"label": "req"})], name="request")
    result = merge_flows(base, current, incoming)
    assert result.flow_doc == flow([node("a", x=2, data={"label": "req"})], name="request")
    assert result.conflicts == [
        {
            "kind": "flow",
            "id": None,
            "field": "name",
            "current": "server",
            "incoming": "request",
            "resolution": "incoming",
        },
        {
            "kind": "node",
            "id": "a",
            "field": "position",
            "current": {"x": 1, "y": 0},
            "incoming": {"x": 2, "y": 0},
            "resolution": "incoming",
        },
        {
            "kind": "node",
            "id": "a",
            "field": "data.label",
            "current": "cur",
            "incoming": "req",
            "resolution": "incoming",
        },
    ]


def test_same_change_on_both_sides_is_no_conflict() -> None:
    base = flow([node("a")])
    both = flow([node("a", x=3, data={"k": True})])
    result = merge_flows(base, both, copy.deepcopy(both))
    assert result.conflicts == [] and result.flow_doc == both


def test_a_field_removed_on_one_side_and_changed_on_the_other_omits_the_absent_side() -> None:
    base = flow([node("a", width=1, data={"k": 1})])
    current = flow([node("a", data={})])
    incoming = flow([node("a", width=2, data={"k": 2})])
    result = merge_flows(base, current, incoming)
    assert result.flow_doc["nodes"] == [node("a", width=2, data={"k": 2})]
    assert result.conflicts == [
        {"kind": "node", "id": "a", "field": "data.k", "incoming": 2, "resolution": "incoming"},
        {"kind": "node", "id": "a", "field": "width", "incoming": 2, "resolution": "incoming"},
    ]


def test_booleans_are_not_numbers_when_detecting_changes() -> None:
    base = flow([node("a", data={"on": 1})])
    result = merge_flows(base, base, flow([node("a", data={"on": True})]))
    assert result.flow_doc["nodes"][0]["data"]["on"] is True
    result = merge_flows(base, flow([node("a", data={"on": True})]), base)
    assert result.flow_doc["nodes"][0]["data"]["on"] is True


def test_additions_on_both_sides_survive_current_first() -> None:
    base = flow([node("a")])
    current = flow([node("a"), node("c")])
    incoming = flow([node("a"), node("i")])
    result = merge_flows(base, current, incoming)
    assert [n["id"] for n in result.flow_doc["nodes"]] == ["a", "c", "i"]


def test_same_id_added_on_both_sides_merges_field_by_field() -> None:
    result = merge_flows(
        flow([]), flow([node("a", x=1, width=3)]), flow([node("a", x=2, height=4)])
    )
    assert result.flow_doc["nodes"] == [{**node("a", x=2), "width": 3, "height": 4}]
    assert [c["field"] for c in result.conflicts] == ["position"]


def test_deleted_on_one_side_unchanged_on_the_other_is_deleted() -> None:
    base = flow([node("a"), node("b")], [edge("e", "a", "b")])
    result = merge_flows(base, flow([node("a")]), base)
    assert result.flow_doc == flow([node("a")])
    assert result.dropped_edges == []  # the server deleted the edge with its node
    result = merge_flows(base, base, flow([node("b")]))
    assert result.flow_doc == flow([node("b")])


def test_deleted_on_one_side_modified_on_the_other_is_kept_and_reported() -> None:
    base = flow([node("a"), node("b")])
    result = merge_flows(base, flow([node("a", x=9), node("b")]), flow([node("b")]))
    assert result.flow_doc == flow([node("a", x=9), node("b")])
    assert result.conflicts == [
        {
            "kind": "node",
            "id": "a",
            "field": None,
            "current": node("a", x=9),
            "resolution": "current",
        }
    ]
    result = merge_flows(base, flow([node("b")]), flow([node("b"), node("a", x=9)]))
    assert result.flow_doc == flow([node("b"), node("a", x=9)])
    assert result.conflicts[0]["resolution"] == "incoming"
    assert "current" not in result.conflicts[0]


def test_edges_to_nodes_deleted_by_the_other_side_are_dropped() -> None:
    base = flow([node("a"), node("b")])
    current = flow([node("a")])  # b deleted on the server
    incoming = flow([node("a"), node("b"), node("c")], [edge("e1", "a", "b"), edge("e2", "a", "c")])
    result = merge_flows(base, current, incoming)
    assert [n["id"] for n in result.flow_doc["nodes"]] == ["a", "c"]
    assert result.flow_doc["edges"] == [edge("e2", "a", "c")]
    assert result.dropped_edges == ["e1"]


def test_unknown_fields_and_key_order_survive() -> None:
    base = flow([{"z": 1, "id": "a", "type": "t", "position": {"x": 0, "y": 0}}])
    current = flow([{"z": 2, "id": "a", "type": "t", "position": {"x": 0, "y": 0}}])
    incoming = flow([{"z": 1, "id": "a", "type": "t", "position": {"x": 1, "y": 0}, "new": 0}])
    merged = merge_flows(base, current, incoming).flow_doc["nodes"][0]
    assert list(merged.items()) == [
        ("z", 2),
        ("id", "a"),
        ("type", "t"),
        ("position", {"x": 1, "y": 0}),
        ("new", 0),
    ]


def test_missing_name_in_request_keeps_the_name() -> None:
    base = flow([], name="a")
    assert merge_flows(base, flow([], name="b"), {"nodes": [], "edges": []}).flow_doc == flow(
        [], name="b"
    )


def test_order_follows_the_side_that_reordered() -> None:
    base = flow([node("a"), node("b"), node("c")])
    current = flow([node("a"), node("b"), node("c"), node("d")])  # appended only
    incoming = flow([node("c"), node("a"), node("b")])  # moved c to the front
    result = merge_flows(base, current, incoming)
    assert [n["id"] for n in result.flow_doc["nodes"]] == ["c", "a", "b", "d"]
    result = merge_flows(base, incoming, current)
    assert [n["id"] for n in result.flow_doc["nodes"]] == ["c", "a", "b", "d"]


@properties(150)
@given(flows(), flows())
def test_unchanged_current_gives_incoming(base: dict[str, Any], x: dict[str, Any]) -> None:
    result = merge_flows(base, base, x)
    assert result.flow_doc == x
    assert result.conflicts == [] and result.dropped_edges == []


@properties(150)
@given(flows(), flows())
def test_unchanged_incoming_gives_current(base: dict[str, Any], x: dict[str, Any]) -> None:
    result = merge_flows(base, x, base)
    assert result.flow_doc == x
    assert result.conflicts == [] and result.dropped_edges == []


@properties()
@given(flows(), flows())
def test_identical_sides_give_that_side(base: dict[str, Any], x: dict[str, Any]) -> None:
    result = merge_flows(base, x, copy.deepcopy(x))
    assert result.flow_doc == x and result.conflicts == []


@properties(200)
@given(disjoint_edits())
def test_disjoint_edits_commute(edits: tuple[dict[str, Any], ...]) -> None:
    base, x, y = edits
    snapshot = copy.deepcopy(edits)
    xy = merge_flows(base, x, y)
    yx = merge_flows(base, y, x)
    assert xy.conflicts == [] and yx.conflicts == []
    assert by_id(xy.flow_doc) == by_id(yx.flow_doc)
    assert sorted(xy.dropped_edges) == sorted(yx.dropped_edges)
    assert edits == snapshot  # inputs are never mutated


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """Field (or ``data.key``) -> new value (MISSING when removed), from before to after."""
    before = before or {}
    out: dict[str, Any] = {}
    for key in {*before, *after}:
        old, new = before.get(key, MISSING), after.get(key, MISSING)
        if json_equal(old, new):
            continue
        if key == "data" and isinstance(old, dict | Missing) and isinstance(new, dict | Missing):
            old_d = old if isinstance(old, dict) else {}
            new_d = new if isinstance(new, dict) else {}
            for k in {*old_d, *new_d}:
                if not json_equal(old_d.get(k, MISSING), new_d.get(k, MISSING)):
                    out[f"data.{k}"] = new_d.get(k, MISSING)
        else:
            out[key] = new
    return out


def field_value(entity: dict[str, Any], field: str) -> Any:
    if field.startswith("data."):
        data = entity.get("data")
        return data.get(field[5:], MISSING) if isinstance(data, dict) else MISSING
    return entity.get(field, MISSING)


@properties(150)
@given(st.data())
def test_every_change_survives_and_the_request_wins_clashes(data: st.DataObject) -> None:
    base = data.draw(flows())
    current = data.draw(edited(base))
    incoming = data.draw(edited(base))
    result = merge_flows(base, current, incoming)
    merged = by_id(result.flow_doc)["nodes"]
    base_nodes = {n["id"]: n for n in base["nodes"]}
    incoming_nodes = {n["id"]: n for n in incoming["nodes"]}
    for n in incoming["nodes"]:
        for field, value in changed_fields(base_nodes.get(n["id"]), n).items():
            assert json_equal(field_value(merged[n["id"]], field), value), field
    for n in current["nodes"]:
        theirs = changed_fields(base_nodes.get(n["id"]), incoming_nodes.get(n["id"], {}))
        for field, value in changed_fields(base_nodes.get(n["id"]), n).items():
            if field not in theirs and n["id"] in incoming_nodes:
                assert json_equal(field_value(merged[n["id"]], field), value), field
        if n["id"] not in incoming_nodes and n != base_nodes.get(n["id"]):
            assert merged[n["id"]] == n  # modified here, deleted there: kept
    ids = set(merged)
    assert len(ids) == len(result.flow_doc["nodes"])
    assert all(e["source"] in ids and e["target"] in ids for e in result.flow_doc["edges"])
