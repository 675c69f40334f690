"""What the collab package needs from the rest of Minibase, as injected interfaces.

Auth (sessions, API keys, roles, quotas) and the flows REST service live elsewhere; the
app wires their implementations into :class:`~minibase.collab.rooms.RoomManager` and
:func:`~minibase.collab.endpoint.collab_route`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from minibase.collab.rules import Limits
from minibase.domain.principal import Principal
from minibase.domain.roles import Role

FlowJSON = dict[str, Any]


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
        self, org_id: str, flow_id: str, flow_json: FlowJSON, author: Principal
    ) -> None:
        """Materialize collaborative edits into the REST flow (a new version).

        Called debounced (at most once per ``materialize_delay`` per room, and at once
        when another author starts editing, so each call has one author) after accepted
        Yjs updates, never for changes that came in through ``RoomManager.apply_flow``.
        ``flow_json`` is ``{"name", "nodes", "edges"}``.
        """
        ...

    async def rest_changes(self, org_id: str, flow_id: str) -> RestChanges | None:
        """What REST changed since the live document last agreed with it, or ``None``."""
        ...

    async def synced(self, org_id: str, flow_id: str, version: int) -> None:
        """The live document now includes REST ``version``."""
        ...
