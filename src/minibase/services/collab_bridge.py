"""One flow, two doors: the collab rooms wired to real credentials, roles and flows.

* :class:`FlowsCollabAuthorizer` opens ``/v1/collab/{orgId}/{flowId}`` to members of the
  org (another org's flow is a 4404, like a random id); viewers and read-only API keys
  get a read-only seat; editors' edits obey the org's quotas (``maxNodes`` left for this
  flow, ``allowedNodeTypes``, storage left).
* :class:`FlowsBridge` materializes collaborative edits into the flow (one version per
  author per ``MINIBASE_COLLAB_VERSION_SECONDS``: the rooms debounce ``on_change`` by that
  much and call it at once when another author starts editing) and tells the rooms what
  REST changed since the live document last agreed with the flow.

``flows.collab_version`` records the flow version the live document last agreed with.
When a REST write moves the flow past it, the room applies only what REST changed since
then (a three-way merge against the live document), so live edits are never reverted.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import orjson

from minibase.auth.credentials import authenticate
from minibase.auth.socket_tickets import TICKET_PREFIX, redeem_ticket
from minibase.config import Settings
from minibase.domain.collab import CollabAccess, Entry, Limits, RestChanges
from minibase.domain.flow_json import FlowJSON
from minibase.domain.principal import SYSTEM, Principal
from minibase.domain.roles import Action, Role, is_allowed
from minibase.errors import Forbidden, MinibaseError, NotFound
from minibase.services import flow_history, flows
from minibase.services.audit import RequestMeta
from minibase.services.orgs import load_org, role_in
from minibase.services.usage import limits_of
from minibase.store.tables import flows as flows_table
from minibase.store.unit_of_work import Store

log = logging.getLogger("minibase.collab")


def _remaining(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(0, limit - used)


def collab_seat(role: Role) -> Role:
    """The seat a role gets in a collab room: editing, read-only, or none (Forbidden)."""
    if not is_allowed(role, Action.FLOWS_READ):
        raise Forbidden("This role may not read flows.")
    return role if is_allowed(role, Action.FLOWS_WRITE) else Role.VIEWER


class FlowsCollabAuthorizer:
    """Who may open a flow's collab socket, and the limits their edits obey."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def authorize(self, token: str, org_id: str, flow_id: str) -> CollabAccess:
        store, settings = self.store, self.settings
        if token.startswith(TICKET_PREFIX):
            token = await redeem_ticket(store, token)
        principal = await authenticate(store, settings, token)
        role = await role_in(store, org_id, principal)
        seat = collab_seat(role)
        async with store.tenant(org_id, principal) as uow:
            row = (
                await uow.execute(
                    uow.select(
                        flows_table, flows_table.c.node_count, flows_table.c.size_bytes
                    ).where(flows_table.c.id == flow_id, flows_table.c.deleted_at.is_(None))
                )
            ).first()
            if row is None:
                raise NotFound("No such flow.")
            org = await load_org(uow)
        limits = limits_of(org)
        return CollabAccess(
            principal=principal,
            role=seat,
            limits=Limits(
                max_nodes=_remaining(limits.max_nodes, org.nodes_used - row.node_count),
                allowed_node_types=(
                    frozenset(limits.allowed_node_types)
                    if limits.allowed_node_types is not None
                    else None
                ),
                max_doc_bytes=_remaining(limits.storage_quota, org.storage_used - row.size_bytes),
            ),
        )


class FlowsBridge:
    """The flows service as the collab rooms see it."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def load(self, org_id: str, flow_id: str) -> FlowJSON:
        async with self.store.tenant(org_id, SYSTEM) as uow:
            result = await flows.get_flow_in(uow, flow_id)
        flow: dict[str, Any] = orjson.loads(result.body)
        return flow

    async def on_change(
        self,
        org_id: str,
        flow_id: str,
        flow_json: FlowJSON,
        author: Principal,
        only: Collection[Entry] | None = None,
    ) -> None:
        try:
            await flows.save_collab(
                self.store,
                self.settings,
                org_id,
                author,
                flow_id,
                flow_json,
                RequestMeta(user_agent="collab"),
                only=only,
            )
        except NotFound:
            return  # the flow was deleted meanwhile; its room is being closed
        except MinibaseError as error:
            # The room's rules admitted the edit with limits read at connect; the org's
            # usage moved since. The room takes the edit back (FlowBridge.on_change).
            log.info(
                "collab edit refused: %s",
                error.message,
                extra={"org": org_id, "flow": flow_id, "code": error.code},
            )
            raise

    async def rest_changes(self, org_id: str, flow_id: str) -> RestChanges | None:
        async with self.store.tenant(org_id, SYSTEM) as uow:
            row = (
                await uow.execute(
                    uow.select(
                        flows_table, flows_table.c.version, flows_table.c.collab_version
                    ).where(flows_table.c.id == flow_id, flows_table.c.deleted_at.is_(None))
                )
            ).first()
            if row is None or row.collab_version == row.version:
                return None
            base = None
            if row.collab_version is not None:
                base = await flow_history.document_at(uow, flow_id, row.collab_version)
            current = await flows.get_flow_in(uow, flow_id)
        flow: dict[str, Any] = orjson.loads(current.body)
        return RestChanges(base=base, flow=flow, version=current.version)

    async def synced(self, org_id: str, flow_id: str, version: int) -> None:
        await flows.mark_collab_synced(self.store, org_id, flow_id, version)
