"""Reading a body against a known version must give exactly what parsing it gives."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minibase.domain import flow_reader
from minibase.domain.flow_index import IndexedFlow, index_flow
from minibase.domain.flow_reader import read_against
from minibase.domain.trusted import Trusted
from tests.domain.strategies import edited, flows, properties


def node(ident: str, x: Any = 0, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "type": "llm", "position": {"x": x, "y": 0}, **extra}


KNOWN = index_flow(
    {
        "name": "F",
        "nodes": [node("a", 1), node("b", 2), node("c", 3)],
        "edges": [{"id": "e", "source": "a", "target": "b"}],
    }
)


def compact(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def check(raw: bytes, known: IndexedFlow) -> tuple[dict[str, Any], Trusted] | None:
    """``read_against``, asserting that whatever it returns is ``orjson.loads(raw)``."""
    read = read_against(raw, known)
    if read is None:
        return None
    body, trusted = read
    parsed = orjson.loads(raw)
    # Same values, same key order, same types (1 and 1.0, true and 1 differ in bytes).
    assert orjson.dumps(body) == orjson.dumps(parsed)
    known_objects = {id(e): e for key in ("nodes", "edges") for e in known.lists[key].items}
    shared = [e for key in ("nodes", "edges") for e in body[key] if e in trusted]
    assert len(shared) == len(trusted)
    assert all(known_objects.get(id(e)) is e for e in shared)
    return read


@properties(300)
@given(st.data())
def test_reading_against_a_version_is_parsing(data: st.DataObject) -> None:
    base = data.draw(flows())
    request = data.draw(edited(base))
    body: dict[str, Any] = {"baseVersion": 3, "nodes": request["nodes"], "edges": request["edges"]}
    if data.draw(st.booleans()):
        body = {"edges": body["edges"], "name": request["name"], **body}
    style = data.draw(st.sampled_from(["orjson", "ascii", "pretty"]))
    if style == "orjson":
        raw = orjson.dumps(body)
    elif style == "ascii":  # JSON.stringify-like, non-ASCII escaped
        raw = json.dumps(body, separators=(",", ":")).encode()
    else:
        raw = json.dumps(body, indent=1).encode()
    known = index_flow(base)
    read = check(raw, known)
    if style == "orjson" and raw.isascii():
        assert read is not None  # what editors send is read this way
        body_read, trusted = read
        # Every entity sent byte for byte as stored is the stored object, and trusted.
        for key in ("nodes", "edges"):
            stored = {e["id"]: e for e in base[key]}
            for entity in body_read[key]:
                twin = stored.get(entity["id"])
                if twin is not None and orjson.dumps(twin) == orjson.dumps(entity):
                    assert entity in trusted


def test_untouched_entities_are_the_known_objects() -> None:
    moved = [node("a", 1), node("b", 5), node("c", 3)]
    raw = compact({"baseVersion": 1, "nodes": moved, "edges": KNOWN.doc["edges"]})
    read = check(raw, KNOWN)
    assert read is not None
    body, trusted = read
    a, b, c = body["nodes"]
    assert a is KNOWN.doc["nodes"][0] and c is KNOWN.doc["nodes"][2]
    assert b is not KNOWN.doc["nodes"][1] and b == node("b", 5)
    assert body["edges"][0] is KNOWN.doc["edges"][0]
    assert {id(e) for e in trusted} == {id(a), id(c), id(body["edges"][0])}


def test_added_removed_and_reordered_entities() -> None:
    nodes = [node("c", 3), node("z", 9), node("a", 1)]
    raw = compact({"nodes": nodes, "edges": [], "baseVersion": 1, "name": "G"})
    read = check(raw, KNOWN)
    assert read is not None
    body, trusted = read
    assert body["nodes"][0] is KNOWN.doc["nodes"][2]  # moved but byte-identical
    assert body["nodes"][2] is KNOWN.doc["nodes"][0]
    assert body["nodes"][1] not in trusted


@pytest.mark.parametrize(
    "raw",
    [
        # Invalid JSON in or around a changed entity: the caller's parse reports it.
        b'{"baseVersion":1,"nodes":[{"id":"a","type":"llm","position":{"x":1,"y":0}},],"edges":[]}',
        b'{"baseVersion":1,"nodes":[{"id":"a","type":"llm","position":{"x":NaN,"y":0}}],'
        b'"edges":[]}',
        b'{"baseVersion":1,"nodes":[,{"id":"b","type":"llm","position":{"x":2,"y":0}}],"edges":[]}',
        b'{"baseVersion":1,"nodes":[{"id":"a","type":"llm","position":{"x":1,"y":0}}'
        b'{"id":"b","type":"llm","position":{"x":2,"y":0}}],"edges":[]}',
        b'{"baseVersion":1,"nodes":[{"id":"a","type":"llm","position":{"x":1,"y":0}}],"edges":[]',
        b'{"baseVersion":1,"nodes":[{"id":"a","type":"llm","position":{"x":1,"y":0}}],"edges":[]}}',
        b'{"baseVersion":1,"nodes":[{"id":"a","type":"llm","position":{"x":1,"y":0}}],'
        b'"edges":[{"id":"e","source":"a","target":"b"}] trailing',
    ],
)
def test_invalid_bodies_are_left_to_the_parser(raw: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    assert read_against(raw, KNOWN) is None


def test_a_nested_key_or_a_repeated_one_is_never_taken_for_the_arrays() -> None:
    nodes_bytes = KNOWN.lists["nodes"].joined.decode()
    edges_bytes = KNOWN.lists["edges"].joined.decode()
    nested = (
        '{"baseVersion":1,"edges":[{"id":"e","source":"a","target":"b","data":{"nodes":'
        + nodes_bytes
        + "}}],"
        + '"nodes":'
        + nodes_bytes
        + "}"
    ).encode()
    check(nested, KNOWN)
    repeated = ('{"nodes":' + nodes_bytes + ',"edges":' + edges_bytes + ',"nodes":[]}').encode()
    read = check(repeated, KNOWN)
    assert read is None or read[0]["nodes"] == []
    inside = ('{"x":{"nodes":' + nodes_bytes + ',"edges":' + edges_bytes + "}}").encode()
    assert check(inside, KNOWN) is None
    assert check(b"[" + KNOWN.lists["nodes"].joined + b"]", KNOWN) is None


def test_other_values_in_the_arrays_are_kept_for_validation() -> None:
    raw = b'{"baseVersion":1,"nodes":[5,"x",null,{"id":7}],"edges":[]}'
    read = check(raw, KNOWN)
    assert read is not None and read[0]["nodes"] == [5, "x", None, {"id": 7}]


def test_pretty_printed_non_ascii_or_placeholder_bodies_are_left_to_the_parser() -> None:
    body = {"baseVersion": 1, "nodes": KNOWN.doc["nodes"], "edges": KNOWN.doc["edges"]}
    assert read_against(json.dumps(body, indent=2).encode(), KNOWN) is None
    assert read_against(orjson.dumps({**body, "name": "café"}), KNOWN) is None
    sneaky = {**body, "name": flow_reader._PLACEHOLDER + "nodes"}
    assert read_against(orjson.dumps(sneaky), KNOWN) is None


def test_a_body_that_changed_everything_is_parsed_whole() -> None:
    many = index_flow({"name": "F", "nodes": [node(f"n{i}", i) for i in range(40)], "edges": []})
    moved = [node(f"n{i}", i + 1) for i in range(40)]
    raw = compact({"baseVersion": 1, "nodes": moved, "edges": []})
    assert read_against(raw, many) is None
    some = [node(f"n{i}", i + (1 if i % 5 == 0 else 0)) for i in range(40)]
    assert check(compact({"baseVersion": 1, "nodes": some, "edges": []}), many) is not None
