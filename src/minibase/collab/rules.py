"""Server-authoritative rules on a CRDT: minimal compensating transactions.

After a client's update is integrated, :func:`enforce` looks only at the entries that
update touched (the :class:`~minibase.collab.flow_doc.Changes` of the refresh) and
deletes just the offending ones, in one server transaction that reaches every client as
an ordinary update. The rest of the client's update stands.

Rules, in the order they are applied:

1. ``malformed``: a node that is not an object with ``id`` (equal to its key, 1 to 256
   characters), a non-empty string ``type`` and a ``position`` ``{x, y}`` of numbers; an
   edge without ``id`` (equal to its key), ``source`` and ``target`` strings.
2. ``node_type_not_allowed``: a node type outside the org's ``allowedNodeTypes``.
3. ``max_nodes`` / ``max_edges``: entries beyond the limit; the newest ones (those this
   update added, last first) go.
4. ``missing_node``: an edge whose source or target is not a node, checked for edges
   this update added or changed and for every edge of a node this update (or rules 1 to 3)
   removed, so an edge added concurrently with its node's deletion is removed too.
5. ``max_doc_bytes``: while the materialized flow is over the size limit, entries this
   update added or changed are removed, largest first (so as few as possible go).
6. ``meta`` and foreign roots: ``meta`` holds ``name`` only (other keys are removed,
   ``unknown_key``); a name that REST would refuse (not a string, blank, over 256
   characters) is set back to the one before (``malformed``); any root type besides
   ``nodes``, ``edges`` and ``meta`` is emptied (``unknown_root``).

Entries are checked as REST checks them (:func:`minibase.domain.flow_graph.node_errors`
and ``edge_errors``), and the size is the REST size of the flow JSON (an upper bound
within 2 bytes), so what the room keeps, REST accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Literal

from minibase.collab.flow_doc import UNREPRESENTABLE, Changes, FlowDoc
from minibase.domain.collab import Limits
from minibase.domain.flow_graph import MAX_NAME_LENGTH, edge_errors, node_errors

EntryKind = Literal["node", "edge", "meta", "root"]

MALFORMED = "malformed"
NODE_TYPE_NOT_ALLOWED = "node_type_not_allowed"
MAX_NODES = "max_nodes"
MAX_EDGES = "max_edges"
MISSING_NODE = "missing_node"
MAX_DOC_BYTES = "max_doc_bytes"
UNKNOWN_KEY = "unknown_key"
UNKNOWN_ROOT = "unknown_root"

ORIGIN_RULES = "server:rules"
"""The origin of the rules' compensating transactions."""


@dataclass(frozen=True, slots=True)
class Removal:
    kind: EntryKind
    id: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id, "reason": self.reason}


def _valid_id(key: str, value: dict[str, Any]) -> bool:
    return value.get("id") == key


def node_problem(key: str, value: Any, limits: Limits) -> str | None:
    """Why node entry ``value`` (plain JSON) under ``key`` breaks a rule, or ``None``."""
    if value is UNREPRESENTABLE or node_errors(value) or not _valid_id(key, value):
        return MALFORMED
    if limits.allowed_node_types is not None and value["type"] not in limits.allowed_node_types:
        return NODE_TYPE_NOT_ALLOWED
    return None


def edge_problem(key: str, value: Any) -> str | None:
    if value is UNREPRESENTABLE or edge_errors(value, None) or not _valid_id(key, value):
        return MALFORMED
    return None


def name_ok(name: Any) -> bool:
    """Whether REST would take ``name`` as a flow's name."""
    return (
        isinstance(name, str)
        and bool(name.strip())
        and len(name) <= MAX_NAME_LENGTH
        and "\x00" not in name
    )


class _Plan:
    def __init__(self, flow: FlowDoc) -> None:
        self.flow = flow
        self.removals: list[Removal] = []
        self.nodes: set[str] = set()
        self.edges: set[str] = set()

    def node(self, key: str, reason: str) -> None:
        if key not in self.nodes:
            self.nodes.add(key)
            self.removals.append(Removal("node", key, reason))

    def edge(self, key: str, reason: str) -> None:
        if key not in self.edges:
            self.edges.add(key)
            self.removals.append(Removal("edge", key, reason))

    def node_alive(self, key: str) -> bool:
        return key in self.flow.node_view.values and key not in self.nodes


def plan(flow: FlowDoc, changes: Changes, limits: Limits) -> list[Removal]:
    """The removals that make ``flow`` obey ``limits`` after ``changes`` (nothing applied)."""
    p = _Plan(flow)
    nodes = flow.node_view.values
    edges = flow.edge_view.values
    touched_nodes = [k for k in (*changes.nodes_added, *changes.nodes_changed) if k in nodes]
    touched_edges = [k for k in (*changes.edges_added, *changes.edges_changed) if k in edges]

    for key in touched_nodes:
        problem = node_problem(key, nodes[key], limits)
        if problem is not None:
            p.node(key, problem)
    for key in touched_edges:
        problem = edge_problem(key, edges[key])
        if problem is not None:
            p.edge(key, problem)

    if limits.max_nodes is not None:
        excess = len(nodes) - len(p.nodes) - limits.max_nodes
        for key in reversed([k for k in changes.nodes_added if k in nodes]):
            if excess <= 0:
                break
            if key not in p.nodes:
                p.node(key, MAX_NODES)
                excess -= 1
    if limits.max_edges is not None:
        excess = len(edges) - len(p.edges) - limits.max_edges
        for key in reversed([k for k in changes.edges_added if k in edges]):
            if excess <= 0:
                break
            if key not in p.edges:
                p.edge(key, MAX_EDGES)
                excess -= 1

    _dangling(p, touched_edges, [*changes.nodes_removed, *p.nodes])

    if limits.max_doc_bytes is not None:
        over = flow.size_bytes - limits.max_doc_bytes
        over -= sum(flow.node_view.sizes[k] for k in p.nodes)
        over -= sum(flow.edge_view.sizes[k] for k in p.edges)
        candidates: list[tuple[int, EntryKind, str]] = [
            *((flow.edge_view.sizes[k], "edge", k) for k in touched_edges),
            *((flow.node_view.sizes[k], "node", k) for k in touched_nodes),
        ]
        candidates.sort(key=lambda c: c[0], reverse=True)
        for _, kind, key in candidates:
            if over <= 0:
                break
            if kind == "node" and key not in p.nodes:
                p.node(key, MAX_DOC_BYTES)
                over -= flow.node_view.sizes[key]
                for edge in flow.edges_of(key):
                    if edge not in p.edges:
                        p.edge(edge, MISSING_NODE)
                        over -= flow.edge_view.sizes.get(edge, 0)
            elif kind == "edge" and key not in p.edges:
                p.edge(key, MAX_DOC_BYTES)
                over -= flow.edge_view.sizes[key]

    if changes.name_changed and not name_ok(flow.meta.get("name")):
        p.removals.append(Removal("meta", "name", MALFORMED))
    for key in changes.meta_keys:
        p.removals.append(Removal("meta", key, UNKNOWN_KEY))
    for root in flow.foreign_roots():
        p.removals.append(Removal("root", root, UNKNOWN_ROOT))
    return p.removals


def _dangling(p: _Plan, touched_edges: Iterable[str], gone_nodes: Iterable[str]) -> None:
    edges = p.flow.edge_view.values
    suspects: dict[str, None] = dict.fromkeys(touched_edges)
    for node in gone_nodes:
        suspects.update(dict.fromkeys(sorted(p.flow.edges_of(node))))
    for key in suspects:
        value = edges.get(key)
        if key in p.edges or not isinstance(value, dict):
            continue
        if not (p.node_alive(str(value.get("source"))) and p.node_alive(str(value.get("target")))):
            p.edge(key, MISSING_NODE)


def enforce(
    flow: FlowDoc,
    limits: Limits,
    origin: Any = None,
    on_update: Callable[[bytes], object] | None = None,
) -> tuple[Changes, list[Removal]]:
    """Materialize what the doc's latest transactions changed and undo what breaks
    ``limits`` with the minimal compensating transaction.

    Returns the changes (the compensation's included) and what was removed. The reads,
    the refresh's and the plan's, share one transaction: outside one, each read of a map
    opens and commits its own, a dozen per drag. The deletions run in one transaction
    with ``origin``; ``on_update`` gets its update, to broadcast like any other.
    """
    with flow.doc.transaction():
        changes = flow.refresh()
        removals = plan(flow, changes, limits)
    if not removals:
        return changes, removals
    with (
        flow.capturing(on_update) if on_update is not None else nullcontext(),
        flow.doc.transaction(origin=origin),
    ):
        for removal in removals:
            if removal.kind == "root":
                flow.empty_root(removal.id)
            elif removal.kind == "meta" and removal.id == "name":
                # Back to the name before; with none valid, to what REST fell back on.
                if name_ok(changes.previous_name):
                    flow.meta["name"] = changes.previous_name
                elif "name" in flow.meta:
                    del flow.meta["name"]
            else:
                target = {"node": flow.nodes, "edge": flow.edges, "meta": flow.meta}
                if removal.id in target[removal.kind]:
                    del target[removal.kind][removal.id]
    changes.merge(flow.refresh())
    return changes, removals


def rule_violation(removals: list[Removal]) -> dict[str, object]:
    """The type-100 notification sent to the author of an update that broke a rule."""
    reasons = sorted({r.reason for r in removals})
    return {
        "type": "rule_violation",
        "removed": [r.to_json() for r in removals],
        "reason": ", ".join(reasons),
    }
