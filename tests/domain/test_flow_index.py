"""Interned entities: the fast save path must give exactly what the plain path gives."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minibase.domain.flow_diff import diff_flows, summarize
from minibase.domain.flow_graph import document_size, validate_flow
from minibase.domain.flow_index import _intern_one, align, encoded_document, index_flow, intern
from minibase.domain.history import encode, encode_version
from minibase.domain.merge import merge_flows
from minibase.domain.trusted import Trusted
from minibase.errors import ValidationFailed
from tests.domain.strategies import disjoint_edits, edited, flows, properties


def node(ident: str, x: Any = 0, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "type": "llm", "position": {"x": x, "y": 0}, **extra}


def fresh(doc: dict[str, Any]) -> dict[str, Any]:
    """The same document as newly parsed objects (what a request body is)."""
    value: dict[str, Any] = orjson.loads(orjson.dumps(doc))
    return value


def test_intern_replaces_byte_identical_entities_only() -> None:
    known = index_flow({"name": "F", "nodes": [node("a", 1), node("b", 2)], "edges": []})
    request = fresh(known.doc)
    request["nodes"][1]["position"]["x"] = 3
    doc, trusted = intern(request, known)
    assert doc["nodes"][0] is known.doc["nodes"][0]
    assert doc["nodes"][1] is request["nodes"][1]
    assert {id(e) for e in trusted} == {id(known.doc["nodes"][0])}
    assert request["nodes"][0] is not known.doc["nodes"][0]  # the input is not modified


def test_intern_keeps_what_json_equality_would_merge() -> None:
    # 1 vs 1.0, true vs 1 and another key order are different bytes: each entity is kept
    # exactly as sent, never swapped for the stored one.
    known = index_flow(
        {"name": "F", "nodes": [node("a", 1), node("b", 1), node("c", 0, w=1, h=2)], "edges": []}
    )
    request = {
        "nodes": [node("a", 1.0), node("b", True), {**node("c", 0), "h": 2, "w": 1}],
        "edges": [],
    }
    doc, trusted = intern(request, known)
    assert not trusted
    assert all(a is b for a, b in zip(doc["nodes"], request["nodes"], strict=True))


def test_intern_tolerates_invalid_documents() -> None:
    known = index_flow({"name": "F", "nodes": [node("a")], "edges": []})
    odd: dict[str, Any] = {"nodes": [None, {"id": ["x"]}, {"id": "a", "v": 10**30}], "edges": 3}
    doc, trusted = intern(odd, known)
    assert doc["nodes"] == odd["nodes"] and doc["edges"] == 3 and not trusted


def test_trusted_entities_still_need_their_place_in_the_document() -> None:
    known = index_flow(
        {
            "name": "F",
            "nodes": [node("a"), node("b")],
            "edges": [{"id": "e", "source": "a", "target": "b"}],
        }
    )
    request = fresh(known.doc)
    request["nodes"] = [request["nodes"][0], {**request["nodes"][0]}]  # b gone, a twice
    doc, trusted = intern(request, known)
    assert trusted  # the edge and the first a come from the known document
    with pytest.raises(ValidationFailed) as raised:
        validate_flow(doc, trusted=trusted)
    assert [f["field"] for f in raised.value.details["fields"]] == [
        "nodes[1].id",
        "edges[0].target",
    ]


def test_index_reuses_parents_bytes_and_encodes_like_orjson() -> None:
    parent = index_flow({"name": "F", "nodes": [node("a"), node("b")], "edges": []})
    child_doc = {"name": "F", "nodes": [parent.doc["nodes"][0], node("c", 5)], "edges": []}
    child = index_flow(child_doc, parent)
    # Not re-encoded: the very bytes of the parent.
    assert child.lists["nodes"].index["a"][1] is parent.lists["nodes"].index["a"][1]
    stored = encoded_document(child)
    assert stored == orjson.dumps({"nodes": child_doc["nodes"], "edges": []})
    assert document_size("F", stored) == len(orjson.dumps(child_doc))
    assert document_size('a "quoted" ü name', stored) == len(
        orjson.dumps({**child_doc, "name": 'a "quoted" ü name'})
    )


def test_align_shares_equal_entities_and_keeps_order() -> None:
    base = index_flow({"name": "F", "nodes": [node("a"), node("b"), node("c")], "edges": []})
    other = fresh(base.doc)
    other["nodes"] = [other["nodes"][2], other["nodes"][0], node("b", 9)]
    aligned = align(index_flow(other), base)
    assert [n["id"] for n in aligned.doc["nodes"]] == ["c", "a", "b"]
    assert aligned.doc["nodes"][0] is base.doc["nodes"][2]
    assert aligned.doc["nodes"][1] is base.doc["nodes"][0]
    assert aligned.doc["nodes"][2]["position"]["x"] == 9
    unchanged = index_flow(fresh(base.doc))
    assert align(base, base) is base
    assert align(unchanged, base).doc["nodes"][1] is base.doc["nodes"][1]


def _shared_merge(
    base: dict[str, Any], current: dict[str, Any], incoming: dict[str, Any]
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Merge as a save does: base and current indexed and aligned, the request interned."""
    base_ix = index_flow(fresh(base))
    current_ix = align(index_flow(fresh(current)), base_ix)
    request, _ = intern(fresh(incoming), base_ix, current_ix)
    return merge_flows(base_ix.doc, current_ix.doc, request), base_ix.doc, current_ix.doc


def _assert_shared_merge_is_plain(
    base: dict[str, Any], current: dict[str, Any], incoming: dict[str, Any]
) -> None:
    plain = merge_flows(fresh(base), fresh(current), fresh(incoming))
    shared, _, _ = _shared_merge(base, current, incoming)
    assert orjson.dumps(shared.flow_doc) == orjson.dumps(plain.flow_doc)
    assert shared.conflicts == plain.conflicts
    assert shared.dropped_edges == plain.dropped_edges


@properties(150)
@given(disjoint_edits())
def test_shared_objects_merge_exactly_like_plain_ones(
    sides: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    base, current, incoming = sides
    _assert_shared_merge_is_plain(base, current, incoming)


@properties(150)
@given(st.data(), flows())
def test_shared_objects_merge_any_edits_exactly(data: st.DataObject, base: dict[str, Any]) -> None:
    current = data.draw(edited(base))
    incoming = data.draw(edited(base))
    _assert_shared_merge_is_plain(base, current, incoming)


@properties(150)
@given(st.data(), flows(), st.integers(2, 40))
def test_history_of_shared_objects_is_the_same_and_summaries_match_the_diff(
    data: st.DataObject, before: dict[str, Any], version: int
) -> None:
    after = data.draw(edited(before))
    before_ix = index_flow(fresh(before))
    after_shared, _ = intern(fresh(after), before_ix)
    plain = encode_version(fresh(before), fresh(after), version)
    encoded = encode(before_ix.doc, after_shared, version)
    assert (encoded.kind, encoded.payload) == plain
    if encoded.touched is not None:
        expected = summarize(diff_flows(before, after))
        for key in ("nodes", "edges"):
            touched = encoded.touched[key]
            assert touched.added == expected[f"{key}Added"]
            assert touched.removed == expected[f"{key}Removed"]
            # A superset: JSON equality may call some of these unchanged (1 vs 1.0).
            assert len(touched.changed) >= expected[f"{key}Changed"]


def test_merging_shared_objects_leaves_the_inputs_alone() -> None:
    base = {"name": "F", "nodes": [node("a"), node("b")], "edges": []}
    current = copy.deepcopy(base)
    current["nodes"][0]["position"]["x"] = 1
    incoming = copy.deepcopy(base)
    incoming["nodes"][1]["data"] = {"k": 1}
    result, base_doc, current_doc = _shared_merge(base, current, incoming)
    snapshot = orjson.dumps([base_doc, current_doc])
    assert [n["id"] for n in result.flow_doc["nodes"]] == ["a", "b"]
    assert result.flow_doc["nodes"][0] is current_doc["nodes"][0]
    assert orjson.dumps([base_doc, current_doc]) == snapshot


@properties(200)
@given(st.data(), flows())
def test_aligned_interning_equals_the_entity_by_entity_one(
    data: st.DataObject, base: dict[str, Any]
) -> None:
    """Whatever the request changed (same ids in the same order, so the in-place path
    runs), interning gives the very objects the one-entity-at-a-time path gives."""
    known = index_flow(fresh(base))
    request = fresh(base)
    for key in ("nodes", "edges"):
        for position, entity in enumerate(request[key]):
            choice = data.draw(st.sampled_from(["same", "same", "move", "reorder", "float"]))
            if choice == "move" and "position" in entity:
                entity["position"] = {"x": data.draw(st.integers(-9, 9)), "y": 0}
            elif choice == "reorder":  # the same JSON value in another key order
                request[key][position] = dict(reversed(list(entity.items())))
            elif choice == "float":
                entity["w"] = data.draw(st.sampled_from([1, 1.0, True]))
    fast, fast_trusted = intern(request, known)
    slow_trusted = Trusted()
    for key in ("nodes", "edges"):
        slow = [_intern_one(e, [known.lists[key].index], slow_trusted) for e in request[key]]
        assert all(a is b for a, b in zip(fast[key], slow, strict=True))
    assert {id(e) for e in fast_trusted} == {id(e) for e in slow_trusted}
