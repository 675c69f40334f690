"""Which nodes a flow change touches, for ``cachingStrategy: "immediate"``.

A node is *changed* when it is new or its type, data or processing options differ, or an
edge into it was added, removed or rewired; everything downstream of a changed node is
*affected*. An ``immediate`` node and the nodes depending on it re-run by themselves
when they are affected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Doc = Mapping[str, Any]


def _by_id(items: Sequence[Any]) -> dict[str, Mapping[str, Any]]:
    return {str(i.get("id")): i for i in items if isinstance(i, Mapping)}


def _descendants(edges: Iterable[Mapping[str, Any]], start: Iterable[str]) -> set[str]:
    children: dict[str, list[str]] = {}
    for edge in edges:
        children.setdefault(str(edge.get("source")), []).append(str(edge.get("target")))
    seen: set[str] = set()
    stack = list(start)
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        stack.extend(children.get(node_id, ()))
    return seen


def _strategy(node: Mapping[str, Any]) -> Any:
    processing = node.get("processing")
    return processing.get("cachingStrategy") if isinstance(processing, Mapping) else None


def has_immediate_nodes(doc: Doc) -> bool:
    """Whether any node of ``doc`` re-runs by itself (most flows: none, nothing to compare)."""
    return any(
        isinstance(node, Mapping) and _strategy(node) == "immediate"
        for node in doc.get("nodes") or []
    )


def immediate_nodes_to_run(before: Doc, after: Doc) -> list[str]:
    """The nodes of ``after`` that must re-run now (sorted; empty: nothing to do)."""
    nodes = _by_id(after.get("nodes") or [])
    immediate = [node_id for node_id, node in nodes.items() if _strategy(node) == "immediate"]
    if not immediate:
        return []
    old_nodes = _by_id(before.get("nodes") or [])
    edges = [e for e in after.get("edges") or [] if isinstance(e, Mapping)]
    changed = {
        node_id
        for node_id, node in nodes.items()
        if node_id not in old_nodes
        or any(node.get(k) != old_nodes[node_id].get(k) for k in ("type", "data", "processing"))
    }
    wiring = ("source", "target", "sourceHandle", "targetHandle")
    old_edges = _by_id(before.get("edges") or [])
    new_edges = _by_id(edges)
    for edge_id in old_edges.keys() | new_edges.keys():
        old, new = old_edges.get(edge_id), new_edges.get(edge_id)
        if old is None or new is None or any(old.get(k) != new.get(k) for k in wiring):
            for side in (old, new):
                if side is not None and str(side.get("target")) in nodes:
                    changed.add(str(side.get("target")))
    affected = _descendants(edges, changed)
    scope = _descendants(edges, immediate)
    return sorted((affected & scope) & nodes.keys())
