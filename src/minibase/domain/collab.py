"""Collaborative editing as the rest of Minibase sees it: its values and its two ports.

The collab package (``minibase.collab``) runs the rooms; it needs to know who may open a
flow's socket with which limits (:class:`CollabAuthorizer`) and to read and write the
REST flow (:class:`FlowBridge`). The services implement both
(``minibase.services.collab_bridge``); the app wires them in. Defining them here lets
services and collab meet without importing each other.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from minibase.domain.flow_json import FlowJSON
from minibase.domain.principal import Principal
from minibase.domain.roles import Role

Entry = tuple[str, str]
"""An entry of a flow an edit touched: ``("node" | "edge" | "meta", id)``."""


def with_entries(current: FlowJSON, proposed: FlowJSON, entries: Collection[Entry]) -> FlowJSON:
    """``current`` with the listed entries as ``proposed`` has them: replaced, added (after
    the others, in ``proposed``'s order) or removed; the name too when ``("meta",
    "name")`` is listed. An edge whose node is not in the result is left out.

    One author's share of a live document that several edited in one debounce window
    (:meth:`FlowBridge.on_change` with ``only``).
    """
    nodes = _with_items(current.get("nodes"), proposed.get("nodes"), entries, "node")
    kept = {node.get("id") for node in nodes if isinstance(node, dict)}
    edges = [
        edge
        for edge in _with_items(current.get("edges"), proposed.get("edges"), entries, "edge")
        if isinstance(edge, dict) and edge.get("source") in kept and edge.get("target") in kept
    ]
    name = proposed.get("name") if ("meta", "name") in entries else current.get("name")
    return {**current, "name": name, "nodes": nodes, "edges": edges}


def _with_items(current: Any, proposed: Any, entries: Collection[Entry], kind: str) -> list[Any]:
    listed = {key for entry_kind, key in entries if entry_kind == kind}
    wanted = {item["id"]: item for item in _items(proposed) if item.get("id") in listed}
    out: list[Any] = []
    for item in _items(current):
        key = item.get("id")
        if key not in listed:
            out.append(item)
        elif key in wanted:
            out.append(wanted.pop(key))
    out.extend(wanted.values())
    return out


def _items(value: Any) -> Iterable[dict[str, Any]]:
    return (item for item in value or () if isinstance(item, dict))


@dataclass(frozen=True, slots=True)
class Limits:
    """What one flow may hold; ``None`` is unlimited.

    ``max_nodes`` is the most nodes *this flow* may hold given the org's total usage
    (the authorizer computes it: the org's limit minus the nodes of its other flows, and
    at most the per-flow setting).
    """

    max_nodes: int | None = None
    max_edges: int | None = None
    allowed_node_types: frozenset[str] | None = None
    max_doc_bytes: int | None = None

    def tighten(self, other: Limits) -> Limits:
        """The stricter of ``self`` and ``other``, limit by limit."""

        def low(a: int | None, b: int | None) -> int | None:
            return b if a is None else a if b is None else min(a, b)

        types = self.allowed_node_types
        if other.allowed_node_types is not None:
            types = other.allowed_node_types if types is None else types & other.allowed_node_types
        return Limits(
            max_nodes=low(self.max_nodes, other.max_nodes),
            max_edges=low(self.max_edges, other.max_edges),
            allowed_node_types=types,
            max_doc_bytes=low(self.max_doc_bytes, other.max_doc_bytes),
        )


@dataclass(frozen=True, slots=True)
class CollabAccess:
    """Who is connecting, with which role, and the limits their edits must obey."""

    principal: Principal
    role: Role
    limits: Limits = field(default_factory=Limits)

    @property
    def read_only(self) -> bool:
        return self.role == Role.VIEWER


class CollabAuthorizer(Protocol):
    """Decides who may open ``/v1/collab/{orgId}/{flowId}``.

    Raise :class:`minibase.errors.Unauthenticated` (socket closed 4401),
    :class:`~minibase.errors.Forbidden` (4403) or :class:`~minibase.errors.NotFound` (4404:
    no such org or flow, or one the caller may not see).
    """

    async def authorize(self, token: str, org_id: str, flow_id: str) -> CollabAccess: ...


@dataclass(frozen=True, slots=True)
class RestChanges:
    """REST changes a live document has not seen yet."""

    base: FlowJSON | None
    """The flow as the document last agreed with it (``None``: take the document)."""
    flow: FlowJSON
    """The REST flow now."""
    version: int
    """Its version; pass to :meth:`FlowBridge.synced` once applied."""


class FlowBridge(Protocol):
    """The flows REST service, as the collab rooms see it."""

    async def load(self, org_id: str, flow_id: str) -> FlowJSON:
        """The current REST flow ``{"name", "nodes", "edges", ...}``; ``NotFound`` if none.

        Seeds a room when the flow has no Yjs state yet, and gives the order of nodes and
        edges when a room loads from stored Yjs state.
        """
        ...

    async def on_change(
        self,
        org_id: str,
        flow_id: str,
        flow_json: FlowJSON,
        author: Principal,
        only: Collection[Entry] | None = None,
    ) -> None:
        """Materialize collaborative edits into the REST flow (a new version by ``author``).

        Called debounced (at most once per ``materialize_delay`` per room and author)
        after accepted Yjs updates, never for changes that came in through
        ``RoomManager.apply_flow``. ``flow_json`` is ``{"name", "nodes", "edges"}``: the
        live document. When several authors edited in one window, each but the last gets
        ``only`` the entries its edits touched (:func:`with_entries` of the REST flow and
        ``flow_json``); the last gets the whole document. Raise the ``MinibaseError`` of a
        refusal (4xx but 404 and 409: a quota, a limit) and the room takes the edits back.
        """
        ...

    async def rest_changes(self, org_id: str, flow_id: str) -> RestChanges | None:
        """What REST changed since the live document last agreed with it, or ``None``."""
        ...

    async def synced(self, org_id: str, flow_id: str, version: int) -> None:
        """The live document now includes REST ``version``."""
        ...
