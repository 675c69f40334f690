"""The changes of one flow, prepared in memory and written together.

:class:`FlowChanges` holds one flow row, locked, with the org's counters and the audit
chain's head as that transaction read them. :meth:`FlowChanges.add` turns a new document
into everything its version needs (the version number, its history payload, the quota
check against the counters as the earlier changes left them, its audit event chained onto
the previous one); :meth:`FlowChanges.flush` writes them all at once. Every flow write
goes through it: a batch of saves (``services/flow_put.py``) as well as a patch, a
restored version or a collab edit (``services/flows.py``).
"""

from __future__ import annotations

from itertools import compress, count
from operator import is_not
from typing import Any

from sqlalchemy import bindparam

from minibase.domain.events import Event, EventKind
from minibase.domain.flow_index import IndexedFlow
from minibase.domain.principal import Principal
from minibase.errors import NotFound
from minibase.ids import now_ms
from minibase.services import audit, flow_history
from minibase.services.audit import RequestMeta, actor_of
from minibase.services.flow_render import (
    FlowResult,
    encode_document,
    render_flow,
    version_document,
)
from minibase.services.usage import (
    admit,
    limits_of,
    org_columns,
    org_of,
    usage_of,
)
from minibase.store.tables import flows, organizations
from minibase.store.unit_of_work import TenantUnitOfWork, prepared, scoped_select
from minibase.store.version_writer import FlowState, VersionWriter


def author_id(principal: Principal) -> str:
    return actor_of(principal)[1] or "system"


def emit_flow(
    uow: TenantUnitOfWork, flow_id: str, version: int | None, *, deleted: bool = False
) -> None:
    """Tell the bus (after commit) that the flow and the org's usage changed."""
    extra = {"deleted": True} if deleted else {}
    uow.emit(Event(uow.org_id, EventKind.FLOW, (flow_id,), version, extra))
    uow.emit(Event(uow.org_id, EventKind.USAGE))


def _new_or_retyped_nodes(
    before: dict[str, Any] | None, after: dict[str, Any]
) -> list[dict[str, Any]]:
    """Nodes whose type the org's ``allowedNodeTypes`` must admit: added or re-typed ones."""
    old_nodes: list[dict[str, Any]] = (before or {}).get("nodes", [])
    new_nodes: list[dict[str, Any]] = after["nodes"]
    if len(old_nodes) == len(new_nodes):
        # The usual save: the same list but for a few objects (found in C); a node that
        # kept its place, id and type needs no check.
        changed = list(compress(count(), map(is_not, new_nodes, old_nodes)))
        if all(old_nodes[k]["id"] == new_nodes[k]["id"] for k in changed):
            return [
                new_nodes[k]
                for k in changed
                if old_nodes[k].get("type") != new_nodes[k].get("type")
            ]
    old = {n["id"]: n.get("type") for n in old_nodes}
    return [n for n in new_nodes if n["id"] not in old or old[n["id"]] != n.get("type")]


# Everything a batch of saves reads, in one statement: the flow (locked), the org's
# counters and limits, the audit chain's head.
_OPEN_FOR_SAVES = prepared(
    scoped_select(flows, *flows.c, *org_columns(), *audit.chain_head_columns())
    .join(organizations, organizations.c.id == flows.c.organization_id)
    .where(flows.c.id == bindparam("flow_id"), flows.c.deleted_at.is_(None))
    .with_for_update(of=flows)
)


class FlowChanges:
    """New versions of one locked flow row, prepared in memory and written by one flush.

    :meth:`add` does everything a change needs before it can be written (the next version
    number, its history payload, the quota check against the org's counters as the
    earlier changes left them, its audit event chained onto the previous one) and changes
    nothing when that check fails, so a caller may skip that change and go on with others.
    :meth:`flush` hands them to the store's
    :class:`~minibase.store.version_writer.VersionWriter`, which writes them all: the flow
    row once, conditional on the version it was read at; the version rows, the audit rows
    and the counters with them.
    """

    def __init__(self, uow: TenantUnitOfWork, row: Any, org: Any, head: audit.ChainHead) -> None:
        self._uow = uow
        self.row = FlowState.of(row)
        """The flow as the changes added so far leave it."""
        self.collab_version: int | None = row.collab_version
        """The version the live document last agreed with, as read."""
        self.indexed: IndexedFlow | None = None
        """:attr:`row`'s document indexed by entity, when known."""
        self._org = org
        self._usage = usage_of(org)
        self._limits = limits_of(org)
        self._head = head
        self._versions: list[flow_history.NewVersion] = []
        self._writer = VersionWriter(uow, row.version)

    @classmethod
    async def open_flow(cls, uow: TenantUnitOfWork, flow_id: str) -> FlowChanges:
        """The changes of the flow ``flow_id``, read (and locked) with the org's counters
        and the audit chain's head in one statement."""
        row = (await uow.execute(_OPEN_FOR_SAVES, {"flow_id": flow_id})).first()
        if row is None:
            raise NotFound("No such flow.")
        row = (await uow.sealer()).open_row(flows, row)
        return cls(uow, row, org_of(row), audit.chain_head_of(row))

    def add(
        self,
        before: dict[str, Any],
        after: dict[str, Any],
        *,
        principal: Principal,
        action: str,
        meta: RequestMeta,
        details: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        collab_synced: bool = False,
        indexed: IndexedFlow | None = None,
        document: bytes | None = None,
    ) -> FlowResult:
        """Make ``after`` the next version (``before``: the document :attr:`row` holds).

        ``extra`` fields are added to the returned flow JSON (a save's ``conflicts``).
        ``indexed``: ``after`` indexed by entity, cached as that version once committed;
        ``document``: ``after`` as stored, when already encoded. Raises
        ``QuotaExceeded`` (with nothing changed) when the org's limits refuse it.
        """
        uow, row = self._uow, self.row
        version = row.version + 1
        now = now_ms()
        if document is None:
            document = encode_document(after)
        payload = flow_history.new_version_payload(before, after, version)
        nodes = len(after["nodes"]) - row.node_count
        storage = len(document) - row.size_bytes + len(payload.payload)
        usage = admit(
            self._usage,
            self._limits,
            nodes=nodes,
            storage=storage,
            node_types=_new_or_retyped_nodes(before, after),
        )
        # Nothing below can fail: the change is accepted.
        event = audit.chained_event(
            self._head,
            uow.org_id,
            principal,
            action,
            "flow",
            row.id,
            meta=meta,
            details={"version": version, **payload.summary, **(details or {})},
        )
        self._head = audit.ChainHead(event["seq"], event["hash"])
        new = flow_history.NewVersion(
            row.id,
            version,
            author_id(principal),
            now,
            payload,
            version_document(after["name"], document),
        )
        self._versions.append(new)
        self._usage = usage
        self.row = FlowState(
            id=row.id,
            organization_id=uow.org_id,
            created_by=row.created_by,
            name=after["name"],
            document=document,
            node_count=len(after["nodes"]),
            edge_count=len(after["edges"]),
            size_bytes=len(document),
            version=version,
            last_modified=now,
        )
        self._writer.add(
            self.row,
            flow_history.version_columns(new),
            event,
            nodes=nodes,
            storage=storage,
            history=len(payload.payload),
            collab_synced=collab_synced,
        )
        self.indexed = indexed
        emit_flow(uow, row.id, version)
        cache = uow.cache
        if indexed is not None and cache is not None:
            key = (uow.org_id, row.id, version)
            uow.on_commit.append(lambda: cache.indexed.put(key, indexed))
        return FlowResult(render_flow(self.row, document, extra), version, usage, self._org)

    async def flush(self) -> None:
        """Write every added version (nothing when none was added)."""
        flow_history.cache_on_commit(self._uow, self._versions)
        self._versions = []
        await self._writer.flush()


async def commit_change(
    uow: TenantUnitOfWork,
    changes: FlowChanges,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    action: str,
    meta: RequestMeta,
    details: dict[str, Any] | None = None,
    collab_synced: bool = False,
) -> FlowResult:
    """Store ``after`` as the next version of ``changes.row`` (which shows ``before``)."""
    result = changes.add(
        before,
        after,
        principal=uow.principal,
        action=action,
        meta=meta,
        details=details,
        collab_synced=collab_synced,
    )
    await changes.flush()
    return result
