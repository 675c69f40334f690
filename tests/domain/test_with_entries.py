"""One author's share of a live document several edited: ``with_entries``."""

from __future__ import annotations

from typing import Any

from minibase.domain.collab import with_entries


def node(key: str, x: int = 0) -> dict[str, Any]:
    return {"id": key, "type": "default", "position": {"x": x, "y": 0}}


def edge(key: str, source: str, target: str) -> dict[str, Any]:
    return {"id": key, "source": source, "target": target}


CURRENT = {
    "name": "REST",
    "nodes": [node("a"), node("b"), node("c")],
    "edges": [edge("a-b", "a", "b"), edge("b-c", "b", "c")],
    "version": 7,
}
LIVE = {
    "name": "Live",
    "nodes": [node("a", 5), node("c", 9), node("d"), node("e")],
    "edges": [edge("a-d", "a", "d"), edge("c-e", "c", "e")],
}


def test_listed_entries_are_taken_and_the_rest_kept() -> None:
    share = with_entries(CURRENT, LIVE, {("node", "a"), ("node", "b"), ("node", "d")})
    # a moved, b gone (and its edges with it), d added last; c keeps its REST value.
    assert share["nodes"] == [node("a", 5), node("c"), node("d")]
    assert share["edges"] == []  # a-b and b-c lost their node b
    assert share["name"] == "REST" and share["version"] == 7


def test_an_edge_comes_with_its_nodes_only() -> None:
    share = with_entries(CURRENT, LIVE, {("edge", "a-d"), ("edge", "c-e"), ("node", "d")})
    # a-d joins two nodes of the share; c-e's node e is another author's, not here yet.
    assert [e["id"] for e in share["edges"]] == ["a-b", "b-c", "a-d"]


def test_the_name_when_listed() -> None:
    assert with_entries(CURRENT, LIVE, {("meta", "name")})["name"] == "Live"
    assert with_entries(CURRENT, LIVE, set())["nodes"] == CURRENT["nodes"]


def test_every_entry_listed_gives_the_live_document() -> None:
    every = {("node", n["id"]) for n in [*CURRENT["nodes"], *LIVE["nodes"]]}
    every |= {("edge", e["id"]) for e in [*CURRENT["edges"], *LIVE["edges"]]}
    every.add(("meta", "name"))
    share = with_entries(CURRENT, LIVE, every)
    assert {**share, "version": None} == {**LIVE, "version": None}
