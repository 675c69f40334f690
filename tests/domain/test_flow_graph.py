"""Flow document rules: every problem reported at once, unknown fields kept."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from minibase.domain.flow_graph import (
    MAX_REPORTED_ERRORS,
    check_allowed_types,
    count_node_types,
    edge_errors,
    node_errors,
    validate_flow,
)
from minibase.errors import PayloadTooLarge, QuotaExceeded, ValidationFailed


def node(ident: str, type_: str = "llm", **extra: Any) -> dict[str, Any]:
    return {"id": ident, "type": type_, "position": {"x": 0, "y": 1.5}, **extra}


def edge(ident: str, source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "source": source, "target": target, **extra}


def fields_of(exc: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {f["field"]: f["type"] for f in exc.value.details["fields"]}


def test_valid_flow_is_returned_with_unknown_fields_and_key_order_kept() -> None:
    n = {"zeta": 1, "id": "a", "position": {"y": 2, "x": 1, "z": 0}, "type": "t", "hidden": True}
    e = {"target": "a", "animated": True, "source": "a", "id": "e", "sourceHandle": None}
    out = validate_flow({"name": "F", "nodes": [n], "edges": [e]})
    assert out == {"name": "F", "nodes": [n], "edges": [e]}
    assert list(out["nodes"][0]) == ["zeta", "id", "position", "type", "hidden"]
    assert list(out["edges"][0]) == ["target", "animated", "source", "id", "sourceHandle"]
    assert out["nodes"][0] is n


def test_view_only_fields_are_dropped() -> None:
    n = {**node("a"), "selected": True, "dragging": False}
    e = {"id": "e", "source": "a", "target": "a", "selected": True}
    nodes, edges = [n], [e]
    out = validate_flow({"nodes": nodes, "edges": edges})
    assert out["nodes"] == [node("a")]
    assert out["edges"] == [{"id": "e", "source": "a", "target": "a"}]
    assert nodes == [n] and "selected" in n  # the request's objects are left alone


def test_normalization_fills_lists_keeps_data_absent_and_drops_other_keys() -> None:
    assert validate_flow({"name": "x"}) == {"name": "x", "nodes": [], "edges": []}
    out = validate_flow({"nodes": [node("a")], "baseVersion": 3})
    assert out == {"nodes": [node("a")], "edges": []}
    assert "data" not in out["nodes"][0]


def test_name_rules() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_flow({}, require_name=True)
    assert fields_of(exc) == {"name": "missing"}
    for bad, type_ in [
        (3, "string_type"),
        ("  ", "string_too_short"),
        ("x" * 257, "string_too_long"),
    ]:
        with pytest.raises(ValidationFailed) as exc:
            validate_flow({"name": bad})
        assert fields_of(exc) == {"name": type_}


def test_name_and_entity_problems_are_reported_together() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_flow({"name": "", "nodes": [{"id": "a"}]})
    assert set(fields_of(exc)) == {"name", "nodes[0].type", "nodes[0].position"}


def test_top_level_shapes() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_flow([])
    assert fields_of(exc) == {"": "dict_type"}
    with pytest.raises(ValidationFailed) as exc:
        validate_flow({"nodes": {}, "edges": "x"})
    assert fields_of(exc) == {"nodes": "list_type", "edges": "list_type"}


def test_all_node_problems_are_collected_with_paths() -> None:
    nodes = [
        node("ok"),
        "not an object",
        {"position": {"x": True, "y": float("nan")}, "type": "", "data": []},
        {"id": "", "type": 3, "position": [1, 2]},
        {"id": "x" * 257, "position": {"x": float("inf")}},
        node("n", data={"label": "kept"}),
    ]
    with pytest.raises(ValidationFailed) as exc:
        validate_flow({"nodes": nodes})
    assert fields_of(exc) == {
        "nodes[1]": "dict_type",
        "nodes[2].id": "missing",
        "nodes[2].type": "string_too_short",
        "nodes[2].position.x": "float_type",
        "nodes[2].position.y": "finite_number",
        "nodes[2].data": "dict_type",
        "nodes[3].id": "string_too_short",
        "nodes[3].type": "string_type",
        "nodes[3].position": "dict_type",
        "nodes[4].id": "string_too_long",
        "nodes[4].type": "missing",
        "nodes[4].position.x": "finite_number",
        "nodes[4].position.y": "missing",
    }
    assert all(f["message"] for f in exc.value.details["fields"])


def test_id_of_exactly_256_characters_and_big_integers_are_fine() -> None:
    out = validate_flow(
        {"nodes": [{"id": "x" * 256, "type": "t", "position": {"x": 10**18, "y": -1}}]}
    )
    assert len(out["nodes"]) == 1


def test_edge_problems_and_duplicates() -> None:
    doc = {
        "nodes": [node("a"), node("b"), node("a")],
        "edges": [
            edge("e1", "a", "b"),
            edge("e2", "a", "ghost"),
            {"id": "e1", "source": 5, "data": "x"},
            edge("e1", "b", "a"),
        ],
    }
    with pytest.raises(ValidationFailed) as exc:
        validate_flow(doc)
    assert fields_of(exc) == {
        "nodes[2].id": "duplicate_id",
        "edges[1].target": "unknown_node",
        "edges[2].source": "string_type",
        "edges[2].target": "missing",
        "edges[2].data": "dict_type",
        "edges[2].id": "duplicate_id",
        "edges[3].id": "duplicate_id",
    }
    dup = next(f for f in exc.value.details["fields"] if f["field"] == "edges[3].id")
    assert "edges[0]" in dup["message"]


def test_node_and_edge_may_share_an_id() -> None:
    validate_flow({"nodes": [node("x")], "edges": [edge("x", "x", "x")]})


def test_edge_may_point_at_a_node_that_is_invalid_otherwise() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_flow({"nodes": [{"id": "a"}], "edges": [edge("e", "a", "a")]})
    assert not [f for f in exc.value.details["fields"] if f["field"].startswith("edges")]


def test_error_list_is_capped() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_flow({"nodes": [{} for _ in range(200)]})
    assert len(exc.value.details["fields"]) == MAX_REPORTED_ERRORS
    assert "600" in exc.value.message


def test_count_limits_raise_payload_too_large_before_entity_checks() -> None:
    bad_nodes = [{} for _ in range(3)]
    with pytest.raises(PayloadTooLarge) as exc:
        validate_flow({"nodes": bad_nodes}, max_nodes=2)
    assert exc.value.details == {"field": "nodes", "limit": 2, "size": 3}
    validate_flow({"nodes": [node("a"), node("b")]}, max_nodes=2)
    with pytest.raises(PayloadTooLarge):
        validate_flow({"nodes": [node("a")], "edges": [edge("1", "a", "a")] * 2}, max_edges=1)


def test_byte_limit_measures_the_normalized_document() -> None:
    doc = {"name": "n", "nodes": [node("a")], "edges": []}
    size = len(orjson.dumps(doc))
    assert validate_flow(doc, max_bytes=size) == doc
    with pytest.raises(PayloadTooLarge) as exc:
        validate_flow(doc, max_bytes=size - 1)
    assert exc.value.details["size"] == size


def test_values_json_cannot_carry_are_refused() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_flow({"nodes": [node("a", data={"big": 2**70})]})
    assert fields_of(exc) == {"": "json_type"}


def test_single_entity_checks() -> None:
    assert node_errors(node("a")) == []
    assert node_errors({"id": "a"}, "ops[0].node")[0]["field"] == "ops[0].node.type"
    assert edge_errors(edge("e", "a", "zz"), None) == []
    assert edge_errors(edge("e", "a", "zz"), {"a"})[0]["field"] == "edge.target"
    assert edge_errors(5, {"a"}) == [
        {"field": "edge", "message": "Must be an object.", "type": "dict_type"}
    ]


def test_count_node_types() -> None:
    nodes = [node("1", "b"), node("2", "a"), node("3", "b"), {"id": "4"}]
    assert count_node_types(nodes) == {"b": 2, "a": 1}
    assert list(count_node_types(nodes)) == ["b", "a"]


def test_allowed_types() -> None:
    nodes = [node("1", "llm"), node("2", "http"), node("3", "shell"), node("4", "http")]
    check_allowed_types(nodes, None)
    check_allowed_types(nodes, ["llm", "http", "shell"])
    with pytest.raises(QuotaExceeded) as exc:
        check_allowed_types(nodes, ["llm"])
    assert exc.value.details == {
        "quota": "allowedNodeTypes",
        "limit": ["llm"],
        "used": ["http", "shell"],
        "requested": 3,
    }
    with pytest.raises(QuotaExceeded):
        check_allowed_types(nodes, [])
    check_allowed_types([], [])
