"""Flows with no lost work: create, read, list, patch, trash, restore, and their history.

Each use case is one function here that opens its own unit of work on the
:class:`~minibase.store.unit_of_work.Store` (a ``PUT`` goes through
``services/flow_put.py`` and group commit, ``services/flow_saves.py``). Every accepted
change, in one transaction: a conditional update of the flow row, its version row, the
usage counters (quota-checked), its audit row (``services/flow_changes.py``); the bus
hears of it after commit. Functions ending in ``_in`` take a unit of work already open,
for services that compose a flow read into a transaction of their own.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import bindparam, func

from minibase.config import Settings
from minibase.domain.collab import Entry, with_entries
from minibase.domain.events import Event, EventKind
from minibase.domain.flow_graph import validate_flow
from minibase.domain.flow_index import IndexedFlow, intern
from minibase.domain.flow_ops import apply_ops
from minibase.domain.merge import merge_flows
from minibase.domain.principal import SYSTEM, Principal
from minibase.domain.trusted import NOTHING_TRUSTED, Trusted
from minibase.errors import NotFound
from minibase.ids import new_id, now_ms
from minibase.services import audit, flow_history
from minibase.services.audit import RequestMeta
from minibase.services.flow_changes import FlowChanges, author_id, commit_change, emit_flow
from minibase.services.flow_render import (
    FlowResult,
    document_of,
    encode_document,
    render_flow,
    summary_json,
    version_view,
)
from minibase.services.pagination import keyset, page
from minibase.services.usage import charge
from minibase.store.compiled import Prepared
from minibase.store.hot_cache import CachedFlow
from minibase.store.tables import flows, node_outputs
from minibase.store.unit_of_work import (
    Store,
    TenantUnitOfWork,
    prepared,
    scoped_select,
)
from minibase.store.version_writer import FlowState

TRASH_RETENTION_MS = 30 * 86_400_000


def validate_document(
    settings: Settings,
    doc: Any,
    *,
    require_name: bool = False,
    known: Sequence[IndexedFlow] = (),
    trusted: Trusted = NOTHING_TRUSTED,
) -> dict[str, Any]:
    """A request's flow document, validated and normalized (see ``domain/flow_graph``).

    Entities byte-identical to ``known`` documents' are interned (``domain/flow_index``)
    and not validated again; ``trusted``: the entities ``doc`` already took from a known
    document (``domain/flow_reader``), not validated again either.
    """
    if known and isinstance(doc, dict):
        doc, trusted = intern(doc, *known)
    return validate_flow(
        doc,
        max_nodes=settings.max_flow_nodes,
        max_edges=settings.max_flow_edges,
        max_bytes=settings.max_flow_bytes,
        require_name=require_name,
        trusted=trusted,
    )


def _load_statement(*, deleted: bool, lock: bool) -> Prepared:
    stmt = scoped_select(flows).where(flows.c.id == bindparam("flow_id"))
    stmt = stmt.where(flows.c.deleted_at.is_not(None) if deleted else flows.c.deleted_at.is_(None))
    # SQLite renders no FOR UPDATE: its writers are serialized already.
    return prepared(stmt.with_for_update() if lock else stmt)


_LOAD = {(d, k): _load_statement(deleted=d, lock=k) for d in (False, True) for k in (False, True)}


async def _load(uow: TenantUnitOfWork, flow_id: str, *, lock: bool, deleted: bool = False) -> Any:
    row = (await uow.execute(_LOAD[deleted, lock], {"flow_id": flow_id})).first()
    if row is None:
        raise NotFound("No such flow.")
    return (await uow.sealer()).open_row(flows, row)


# --- reads -------------------------------------------------------------------------------


async def get_flow_in(uow: TenantUnitOfWork, flow_id: str) -> FlowResult:
    """The flow (not trashed) as the API returns it; ``NotFound`` otherwise."""
    row = await _load(uow, flow_id, lock=False)
    return FlowResult(render_flow(row), row.version)


async def read_flow(store: Store, org_id: str, principal: Principal, flow_id: str) -> CachedFlow:
    """``GET`` of one flow: its stored bytes, from the instance's cache when it holds them
    (filled on a miss, unless a commit invalidated flows meanwhile)."""
    key = (org_id, flow_id)
    cache = store.cache.flows
    cached = cache.get(key)
    if cached is None:
        epoch = cache.epoch
        async with store.tenant(org_id, principal) as uow:
            result = await get_flow_in(uow, flow_id)
        cached = CachedFlow(result.body, result.version)
        cache.put(key, epoch, cached)
    return cached


async def list_flows_in(
    uow: TenantUnitOfWork, *, limit: int, cursor: str | None, deleted: bool = False
) -> dict[str, Any]:
    """Flows in creation order (``deleted=True``: the trash, restorable for 30 days)."""
    stmt = uow.select(flows, *[c for c in flows.c if c.name != "document"])
    if deleted:
        stmt = stmt.where(
            flows.c.deleted_at.is_not(None), flows.c.deleted_at > now_ms() - TRASH_RETENTION_MS
        )
    else:
        stmt = stmt.where(flows.c.deleted_at.is_(None))
    stmt = keyset(stmt, [flows.c.created_at, flows.c.id], cursor, limit)
    rows = (await uow.execute(stmt)).all()

    def render(row: Any) -> dict[str, Any]:
        item = summary_json(row)
        if deleted:
            item["deletedAt"] = row.deleted_at
        return item

    return page(rows, limit, render=render, key=lambda r: [r.created_at, r.id])


async def list_flows(
    store: Store,
    org_id: str,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None,
    deleted: bool = False,
) -> dict[str, Any]:
    """A page of flows; of the trash with ``deleted=True`` (purged of flows past their
    30 days first)."""
    if deleted:
        async with store.tenant(org_id, SYSTEM, write=True) as uow:
            await purge_trash(uow)
    async with store.tenant(org_id, principal) as uow:
        return await list_flows_in(uow, limit=limit, cursor=cursor, deleted=deleted)


async def list_versions(
    store: Store,
    org_id: str,
    principal: Principal,
    flow_id: str,
    *,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """A page of the flow's versions, newest first."""
    async with store.tenant(org_id, principal) as uow:
        await get_flow_in(uow, flow_id)
        return await flow_history.list_versions(uow, flow_id, limit=limit, cursor=cursor)


async def get_version(
    store: Store, org_id: str, principal: Principal, flow_id: str, version: int
) -> dict[str, Any]:
    """The flow as it was at ``version``."""
    async with store.tenant(org_id, principal) as uow:
        current = await get_flow_in(uow, flow_id)
        doc = await flow_history.document_at(uow, flow_id, version)
        row = await flow_history.version_row(uow, flow_id, version)
    return version_view(current.body, doc, row)


async def diff_versions(
    store: Store, org_id: str, principal: Principal, flow_id: str, a: int, b: int
) -> dict[str, Any]:
    """What changed between two versions of the flow."""
    async with store.tenant(org_id, principal) as uow:
        await get_flow_in(uow, flow_id)
        return await flow_history.diff_versions(uow, flow_id, a, b)


# --- writes ------------------------------------------------------------------------------


async def create_flow(
    store: Store,
    settings: Settings,
    org_id: str,
    principal: Principal,
    body: Any,
    meta: RequestMeta,
) -> FlowResult:
    """A new flow, as version 1 (quota-checked)."""
    doc = validate_document(settings, body, require_name=True)
    async with store.tenant(org_id, principal, write=True) as uow:
        return await _create(uow, doc, meta)


async def _create(uow: TenantUnitOfWork, doc: dict[str, Any], meta: RequestMeta) -> FlowResult:
    flow_id = new_id("flow")
    now = now_ms()
    document = encode_document(doc)
    payload = flow_history.new_version_payload(None, doc, 1)
    usage, org = await charge(
        uow,
        flows=1,
        nodes=len(doc["nodes"]),
        storage=len(document) + len(payload.payload),
        node_types=doc["nodes"],
    )
    author = author_id(uow.principal)
    state = FlowState(
        id=flow_id,
        organization_id=uow.org_id,
        created_by=author,
        name=doc["name"],
        document=document,
        node_count=len(doc["nodes"]),
        edge_count=len(doc["edges"]),
        size_bytes=len(document),
        version=1,
        last_modified=now,
    )
    row = {
        "id": flow_id,
        "created_by": author,
        **state.written(),
        "history_bytes": len(payload.payload),
        "created_at": now,
        "deleted_at": None,
    }
    await uow.execute(uow.insert(flows, **(await uow.sealer()).seal_values(flows, row)))
    await flow_history.append(uow, flow_id, 1, author, now, payload)
    await audit.record(
        uow,
        "flow.create",
        "flow",
        flow_id,
        meta=meta,
        details={"name": doc["name"], "version": 1, **payload.summary},
    )
    emit_flow(uow, flow_id, 1)
    row = await _load(uow, flow_id, lock=False)
    return FlowResult(render_flow(row), 1, usage, org)


async def patch_flow(
    store: Store,
    settings: Settings,
    org_id: str,
    principal: Principal,
    flow_id: str,
    ops: Any,
    meta: RequestMeta,
) -> FlowResult:
    """``PATCH``: apply ``ops`` all together or not at all."""
    async with store.tenant(org_id, principal, write=True) as uow:
        changes = await FlowChanges.open_flow(uow, flow_id)
        row = changes.row
        current = document_of(row)
        # The ops leave the entities they do not touch as the stored version's very
        # objects, validated when it was saved: only what the ops made is checked again.
        stored = Trusted([*current["nodes"], *current["edges"]])
        changed = validate_document(settings, apply_ops(current, ops), trusted=stored)
        changed.setdefault("name", current["name"])
        if changed == current:
            return FlowResult(render_flow(row), row.version)
        return await commit_change(
            uow,
            changes,
            current,
            changed,
            action="flow.patch",
            meta=meta,
            details={"ops": len(ops)},
        )


async def restore_version(
    store: Store,
    org_id: str,
    principal: Principal,
    flow_id: str,
    version: int,
    meta: RequestMeta,
) -> FlowResult:
    """Make ``version``'s content the newest version."""
    async with store.tenant(org_id, principal, write=True) as uow:
        changes = await FlowChanges.open_flow(uow, flow_id)
        row = changes.row
        if version < 1 or version > row.version:
            raise NotFound("No such version.")
        target = await flow_history.document_at(uow, flow_id, version)
        current = document_of(row)
        return await commit_change(
            uow,
            changes,
            current,
            target,
            action="flow.restore_version",
            meta=meta,
            details={"restoredVersion": version},
        )


async def _outputs_size(uow: TenantUnitOfWork, flow_id: str) -> int:
    total = (
        await uow.execute(
            uow.select(node_outputs, func.coalesce(func.sum(node_outputs.c.size_bytes), 0)).where(
                node_outputs.c.flow_id == flow_id
            )
        )
    ).scalar_one()
    return int(total)


async def delete_flow(
    store: Store, org_id: str, principal: Principal, flow_id: str, meta: RequestMeta
) -> None:
    """Move the flow to the trash and delete its outputs."""
    async with store.tenant(org_id, principal, write=True) as uow:
        row = await _load(uow, flow_id, lock=True)
        outputs_size = await _outputs_size(uow, flow_id)
        await uow.execute(uow.delete(node_outputs).where(node_outputs.c.flow_id == flow_id))
        await uow.execute(
            uow.update(flows).where(flows.c.id == flow_id).values(deleted_at=now_ms())
        )
        await charge(uow, flows=-1, nodes=-row.node_count, storage=-outputs_size)
        await audit.record(
            uow,
            "flow.delete",
            "flow",
            flow_id,
            meta=meta,
            details={"name": row.name, "outputsDeleted": outputs_size > 0},
        )
        emit_flow(uow, flow_id, None, deleted=True)
        uow.emit(Event(uow.org_id, EventKind.OUTPUTS, (flow_id,)))


async def restore_flow(
    store: Store, org_id: str, principal: Principal, flow_id: str, meta: RequestMeta
) -> FlowResult:
    """Bring a flow back from the trash (quotas apply again)."""
    async with store.tenant(org_id, principal, write=True) as uow:
        row = await _load(uow, flow_id, lock=True, deleted=True)
        if row.deleted_at <= now_ms() - TRASH_RETENTION_MS:
            raise NotFound("No such flow.")
        doc = document_of(row)
        usage, org = await charge(uow, flows=1, nodes=row.node_count, node_types=doc["nodes"])
        await uow.execute(uow.update(flows).where(flows.c.id == flow_id).values(deleted_at=None))
        await audit.record(uow, "flow.restore", "flow", flow_id, meta=meta)
        emit_flow(uow, flow_id, row.version)
        fresh = await _load(uow, flow_id, lock=False)
    return FlowResult(render_flow(fresh), fresh.version, usage, org)


async def purge_trash(uow: TenantUnitOfWork) -> int:
    """Delete flows trashed more than 30 days ago, releasing their storage."""
    cutoff = now_ms() - TRASH_RETENTION_MS
    rows = (
        await uow.execute(
            uow.select(flows, flows.c.id, flows.c.size_bytes, flows.c.history_bytes).where(
                flows.c.deleted_at.is_not(None), flows.c.deleted_at <= cutoff
            )
        )
    ).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    await uow.execute(uow.delete(flows).where(flows.c.id.in_(ids)))
    await charge(uow, storage=-sum(r.size_bytes + r.history_bytes for r in rows))
    return len(ids)


# --- the collab door ---------------------------------------------------------------------


async def save_collab(
    store: Store,
    settings: Settings,
    org_id: str,
    principal: Principal,
    flow_id: str,
    flow_json: dict[str, Any],
    meta: RequestMeta,
    only: Collection[Entry] | None = None,
) -> FlowResult | None:
    """Materialize a collab room's document as the next version (``None``: no change).

    ``only``: the version takes just these entries from the document (one author's share
    of a window several edited, :func:`minibase.domain.collab.with_entries`).

    When REST moved the flow past the version the room last agreed with and the room has
    not caught up yet, the room's document is merged onto the flow instead of replacing
    it, so that REST change survives (and reaches the room when it catches up).
    """
    async with store.tenant(org_id, principal, write=True) as uow:
        changes = await FlowChanges.open_flow(uow, flow_id)
        row = changes.row
        current = document_of(row)
        if only is not None:
            flow_json = with_entries(current, flow_json, only)
        incoming = validate_document(
            settings,
            {
                "name": flow_json.get("name") or current["name"],
                "nodes": flow_json.get("nodes", []),
                "edges": flow_json.get("edges", []),
            },
        )
        seen = changes.collab_version
        synced = seen is None or seen == row.version
        if not synced:
            assert seen is not None
            base = await flow_history.document_at(uow, flow_id, seen)
            incoming = validate_document(settings, merge_flows(base, current, incoming).flow_doc)
            incoming.setdefault("name", current["name"])
        if incoming == current:
            return None
        return await commit_change(
            uow,
            changes,
            current,
            incoming,
            action="flow.collab_edit",
            meta=meta,
            collab_synced=synced,
        )


async def mark_collab_synced(store: Store, org_id: str, flow_id: str, version: int) -> None:
    """The live document of ``flow_id`` now includes ``version``."""
    async with store.tenant(org_id, SYSTEM, write=True) as uow:
        await uow.execute(
            uow.update(flows).where(flows.c.id == flow_id).values(collab_version=version)
        )
