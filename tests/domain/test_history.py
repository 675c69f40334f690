"""Version storage: snapshots and deltas rebuild every version exactly."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minibase.domain.history import (
    SNAPSHOT_EVERY,
    CorruptHistory,
    apply_delta,
    encode_version,
    rebuild,
)
from tests.domain.strategies import edited, flows, properties


def node(ident: str, x: float = 0, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "type": "llm", "position": {"x": x, "y": 0}, **extra}


def unpacked(payload: bytes) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(zlib.decompress(payload))
    return value


def store(docs: list[dict[str, Any]], every: int = SNAPSHOT_EVERY) -> list[tuple[str, bytes]]:
    entries: list[tuple[str, bytes]] = []
    prev = None
    for version, doc in enumerate(docs, start=1):
        entries.append(encode_version(prev, doc, version, every=every))
        prev = doc
    return entries


def read(entries: list[tuple[str, bytes]], version: int) -> dict[str, Any]:
    """What the store does: the newest snapshot at or before ``version``, then deltas."""
    start = max(i for i in range(version) if entries[i][0] == "snapshot")
    return rebuild(entries[start:version])


def assert_exact(a: Any, b: Any) -> None:
    assert orjson.dumps(a) == orjson.dumps(b)


def test_snapshot_every_k_versions_and_deltas_between() -> None:
    docs = [{"name": "F", "nodes": [node("a", x=i)], "edges": []} for i in range(45)]
    kinds = [kind for kind, _ in store(docs)]
    assert [i + 1 for i, k in enumerate(kinds) if k == "snapshot"] == [1, 21, 41]
    assert encode_version(None, docs[1], 2)[0] == "snapshot"


def test_a_move_is_a_small_patch() -> None:
    prev = {"name": "F", "nodes": [node("a", data={"big": "x" * 1000}), node("b")], "edges": []}
    doc = {**prev, "nodes": [node("a", x=5, data={"big": "x" * 1000}), node("b")]}
    kind, payload = encode_version(prev, doc, 2)
    assert kind == "delta"
    assert unpacked(payload) == {
        "f": 1,
        "v": 2,
        "nodes": {"patch": [{"id": "a", "set": {"position": {"x": 5, "y": 0}}}]},
    }
    assert_exact(apply_delta(prev, payload), doc)
    assert prev["nodes"][0]["position"]["x"] == 0  # not modified


def test_delta_parts() -> None:
    prev = {"name": "F", "nodes": [node("a"), node("b", width=1), node("c")], "edges": []}
    doc = {
        "nodes": [node("c"), {"width": 1, **node("b")}, node("d")],
        "edges": [{"id": "e", "source": "c", "target": "d"}],
        "name": "G",
    }
    delta = unpacked(encode_version(prev, doc, 2)[1])
    assert delta["top"] == {"set": {"name": "G"}, "keys": ["nodes", "edges", "name"]}
    assert delta["nodes"] == {
        "del": ["a"],
        "put": [{"width": 1, **node("b")}, node("d")],
        "order": ["c", "b", "d"],
    }
    assert delta["edges"] == {"put": [{"id": "e", "source": "c", "target": "d"}]}
    entries = store([prev, doc])
    assert_exact(rebuild(entries), doc)


def test_unchanged_version_is_an_empty_delta_and_int_float_counts() -> None:
    prev = {"name": "F", "nodes": [node("a", x=1)], "edges": []}
    assert unpacked(encode_version(prev, prev, 2)[1]) == {"f": 1, "v": 2}
    doc = {"name": "F", "nodes": [node("a", x=1.0)], "edges": []}
    assert_exact(rebuild(store([prev, doc])), doc)


def test_documents_the_delta_cannot_carry_become_snapshots() -> None:
    prev = {"name": "F", "nodes": [node("a")], "edges": []}
    dup = {"name": "F", "nodes": [node("a"), node("a", x=1)], "edges": []}
    assert encode_version(prev, dup, 2)[0] == "snapshot"
    assert encode_version(dup, prev, 3)[0] == "snapshot"
    assert encode_version(prev, {"name": "F", "edges": []}, 2)[0] == "snapshot"


def test_corrupt_history_is_reported() -> None:
    docs = [{"name": "F", "nodes": [node("a", x=i)], "edges": []} for i in range(4)]
    entries = store(docs)
    with pytest.raises(CorruptHistory):
        rebuild([])
    with pytest.raises(CorruptHistory):
        rebuild(entries[1:])
    with pytest.raises(CorruptHistory):
        rebuild([entries[0], entries[2]])  # a gap
    with pytest.raises(CorruptHistory):
        rebuild([entries[0], ("delta", b"not zlib")])
    with pytest.raises(CorruptHistory):
        rebuild([entries[0], ("weird", entries[1][1])])
    with pytest.raises(CorruptHistory):
        rebuild([entries[0], ("delta", entries[0][1])])
    with pytest.raises(CorruptHistory):
        rebuild([("snapshot", zlib.compress(b'{"f": 2, "v": 1, "doc": {}}'))])
    bad = zlib.compress(orjson.dumps({"f": 1, "v": 2, "nodes": {"del": ["zz"]}}))
    with pytest.raises(CorruptHistory):
        rebuild([entries[0], ("delta", bad)])


@st.composite
def reshuffled(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with the key order of some entities (and of the document) permuted."""

    def shuffle(obj: dict[str, Any]) -> dict[str, Any]:
        if draw(st.integers(0, 3)) != 0:
            return obj
        return dict(draw(st.permutations(list(obj.items()))))

    out = {k: [shuffle(e) for e in v] if k in ("nodes", "edges") else v for k, v in doc.items()}
    return shuffle(out)


@properties(80)
@given(st.data(), st.sampled_from([1, 2, 3, SNAPSHOT_EVERY]))
def test_every_version_rebuilds_exactly(data: st.DataObject, every: int) -> None:
    docs = [data.draw(flows())]
    for _ in range(data.draw(st.integers(0, 12))):
        # mostly edits of the previous version, sometimes an unrelated document
        docs.append(data.draw(edited(docs[-1]) | flows()))
        docs[-1] = data.draw(reshuffled(docs[-1]))
    entries = store(docs, every)
    for version, doc in enumerate(docs, start=1):
        assert_exact(read(entries, version), doc)


@properties()
@given(flows(), flows())
def test_any_pair_round_trips(a: dict[str, Any], b: dict[str, Any]) -> None:
    kind, payload = encode_version(a, b, 2)
    assert kind == "delta"
    assert_exact(apply_delta(a, payload), b)
