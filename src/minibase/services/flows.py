"""Flows with no lost work: create, read, save (three-way merge), patch, trash, restore.

A flow row keeps its current document as JSON bytes (``{"nodes": [...], "edges": [...]}``)
so a read returns stored bytes without parsing them. Every accepted change, in one
transaction: a conditional update (``WHERE version = :seen``), its version row, the usage
counters (quota-checked), its audit row; the bus hears of it after commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, count
from operator import is_not
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import Select, bindparam, func

from minibase.config import Settings
from minibase.domain.flow_graph import check_limits, document_size, validate_flow
from minibase.domain.flow_index import IndexedFlow, align, encoded_document, index_flow, intern
from minibase.domain.flow_ops import apply_ops
from minibase.domain.flow_reader import read_against
from minibase.domain.merge import merge_flows
from minibase.domain.principal import Principal
from minibase.errors import MinibaseError, NotFound, VersionConflict
from minibase.ids import new_id, now_ms
from minibase.realtime.events import Event
from minibase.services import audit, flow_history
from minibase.services.audit import RequestMeta, actor_of
from minibase.services.pagination import keyset, page
from minibase.services.usage import (
    Usage,
    add_to_counters,
    admit,
    charge,
    limits_of,
    org_columns,
    org_of,
    usage_of,
)
from minibase.store.hot_cache import HotCache
from minibase.store.tables import flows, node_outputs, organizations
from minibase.store.unit_of_work import (
    TenantUnitOfWork,
    prepared,
    scoped_select,
    scoped_update,
)

TRASH_RETENTION_MS = 30 * 86_400_000


@dataclass(slots=True)
class FlowResult:
    """A flow as the API returns it (serialized), with what the write did."""

    body: bytes
    version: int
    usage: Usage | None = None
    org: Any = None


def author_id(principal: Principal) -> str:
    return actor_of(principal)[1] or "system"


def encode_document(doc: dict[str, Any]) -> bytes:
    return orjson.dumps({"nodes": doc.get("nodes", []), "edges": doc.get("edges", [])})


def render_flow(
    row: Any, document: bytes | None = None, extra: dict[str, Any] | None = None
) -> bytes:
    """The contract's flow JSON, spliced from the row's fields and its stored bytes."""
    head = orjson.dumps(
        {
            "id": row.id,
            "organizationId": row.organization_id,
            "name": row.name,
            "createdBy": row.created_by,
            "version": row.version,
            "lastModified": row.last_modified,
        }
    )
    body = document if document is not None else row.document
    tail = b"," + orjson.dumps(extra)[1:-1] if extra else b""
    return head[:-1] + b"," + body[1:-1] + tail + b"}"


def summary_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "version": row.version,
        "lastModified": row.last_modified,
        "createdBy": row.created_by,
        "nodeCount": row.node_count,
        "edgeCount": row.edge_count,
    }


def _document_of(row: Any) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(row.document)
    return {"name": row.name, "nodes": doc["nodes"], "edges": doc["edges"]}


def validate_document(
    settings: Settings,
    doc: Any,
    *,
    require_name: bool = False,
    known: Sequence[IndexedFlow] = (),
    trusted: set[int] | None = None,
) -> dict[str, Any]:
    """A request's flow document, validated and normalized (see ``domain/flow_graph``).

    Entities byte-identical to ``known`` documents' are interned (``domain/flow_index``)
    and not validated again; ``trusted``: the ``id()`` of entities ``doc`` already took
    from a known document (``domain/flow_reader``), not validated again either.
    """
    trusted = trusted or set()
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


@dataclass(frozen=True, slots=True)
class SaveRequest:
    """A validated ``PUT``: its document and the version it edits."""

    doc: dict[str, Any]
    base_version: int
    interned_with: IndexedFlow | None = None
    """The cached base version whose untouched entities ``doc`` already shares."""


@dataclass(frozen=True, slots=True)
class BodyRead:
    """A ``PUT`` body read against the cached version it edits (``domain/flow_reader``)."""

    body: dict[str, Any]
    known: IndexedFlow
    trusted: set[int]
    """The ``id()`` of the entities ``body`` took from ``known``."""


def read_against_cache(cache: HotCache, org_id: str, flow_id: str, raw: bytes) -> BodyRead | None:
    """``raw`` read against the version it edits, when the instance holds it indexed
    (``None``: parse it whole). Its ``"baseVersion":`` is peeked at without parsing the
    body: a guess, as :func:`~minibase.domain.flow_reader.read_against` verifies all it
    reads."""
    at = raw.find(b'"baseVersion":')
    if at < 0:
        return None
    digits = raw[at + 14 : at + 34].split(b",", 1)[0].split(b"}", 1)[0]
    if not digits.isdigit():
        return None
    known = cache.indexed.get((org_id, flow_id, int(digits)))
    if known is None:
        return None
    read = read_against(raw, known)
    return None if read is None else BodyRead(read[0], known, read[1])


def validate_save(
    settings: Settings,
    cache: HotCache | None,
    org_id: str,
    flow_id: str,
    doc: dict[str, Any],
    base_version: int,
    *,
    read: BodyRead | None = None,
) -> SaveRequest:
    """A ``PUT``'s document, validated before the write transaction.

    When the version it edits is in the instance's cache, only what the request changed
    is validated (a save's base is usually the current version, or a recent one).
    ``read``: how ``doc``'s body was read against that version already.
    """
    if read is not None:
        valid = validate_document(settings, doc, trusted=read.trusted)
        return SaveRequest(valid, base_version, read.known)
    base = cache.indexed.get((org_id, flow_id, base_version)) if cache is not None else None
    valid = validate_document(settings, doc, known=(base,) if base is not None else ())
    return SaveRequest(valid, base_version, base)


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


def _indexed(
    uow: TenantUnitOfWork, row: Any, *, align_with: IndexedFlow | None = None
) -> IndexedFlow:
    """The row's current document, indexed by entity (shared: never modify it).

    Built from the row on a cache miss, then sharing ``align_with``'s untouched entities
    (a flow's versions cached as saves make them share them already).
    """
    key = (uow.org_id, row.id, row.version)
    cached = uow.cache.indexed.get(key) if uow.cache is not None else None
    if cached is None:
        cached = index_flow(_document_of(row))
        if align_with is not None:
            cached = align(cached, align_with)
        if uow.cache is not None:
            uow.cache.indexed.put(key, cached)
    return cached


def _load_statement(*, deleted: bool, lock: bool) -> Select[Any]:
    stmt = scoped_select(flows).where(flows.c.id == bindparam("flow_id"))
    stmt = stmt.where(flows.c.deleted_at.is_not(None) if deleted else flows.c.deleted_at.is_(None))
    # SQLite renders no FOR UPDATE: its writers are serialized already.
    return prepared(stmt.with_for_update() if lock else stmt)


_LOAD = {(d, k): _load_statement(deleted=d, lock=k) for d in (False, True) for k in (False, True)}

# Everything a batch of saves reads, in one statement: the flow (locked), the org's
# counters and limits, the audit chain's head.
_OPEN_FOR_SAVES = prepared(
    scoped_select(flows, *flows.c, *org_columns(), *audit.chain_head_columns())
    .join(organizations, organizations.c.id == flows.c.organization_id)
    .where(flows.c.id == bindparam("flow_id"), flows.c.deleted_at.is_(None))
    .with_for_update(of=flows)
)

_UPDATE = (
    scoped_update(flows)
    .where(flows.c.id == bindparam("flow_id"), flows.c.version == bindparam("seen_version"))
    .values(
        name=bindparam("new_name"),
        document=bindparam("new_document"),
        node_count=bindparam("new_node_count"),
        edge_count=bindparam("new_edge_count"),
        size_bytes=bindparam("new_size_bytes"),
        history_bytes=flows.c.history_bytes + bindparam("history_growth"),
        version=bindparam("new_version"),
        last_modified=bindparam("now"),
    )
)
_SAVE = prepared(_UPDATE)

# VersionWriter.flush on PostgreSQL: the flow row, the version rows, the audit rows and the
# counters in one statement (data-modifying CTEs see one snapshot and all run; a flow that
# moved on makes ``saved`` 0, and the error raised then rolls everything back).
_EVENT_COLUMNS = (
    *("seq", "id", "at", "actor_type", "actor_id", "action", "resource_type"),
    *("resource_id", "ip", "user_agent", "outcome", "details", "prev_hash", "hash"),
)
"""The audit columns ``_FLUSH_POSTGRES`` inserts, in its order (``$20`` to ``$33``)."""
_FLUSH_POSTGRES = """
WITH saved AS (
    UPDATE flows SET name = $4, document = $5, node_count = $6, edge_count = $7,
        size_bytes = $8, history_bytes = history_bytes + $9, version = $10,
        last_modified = $11,
        collab_version = CASE WHEN $12 THEN $10 ELSE collab_version END
    WHERE organization_id = $1 AND id = $2 AND version = $3
    RETURNING 1
), versions AS (
    INSERT INTO flow_versions (organization_id, flow_id, version, created_by, created_at,
        summary, kind, payload, size_bytes)
    SELECT $1, $2, v.* FROM unnest($13::int[], $14::text[], $15::bigint[], $16::text[],
        $17::text[], $18::bytea[], $19::bigint[]) AS v
), events AS (
    INSERT INTO audit_events (organization_id, seq, id, at, actor_type, actor_id, action,
        resource_type, resource_id, ip, user_agent, outcome, details, prev_hash, hash)
    SELECT $1, e.* FROM unnest($20::bigint[], $21::text[], $22::bigint[], $23::text[],
        $24::text[], $25::text[], $26::text[], $27::text[], $28::text[], $29::text[],
        $30::text[], $31::text[], $32::text[], $33::text[]) AS e
), counters AS (
    UPDATE organizations SET nodes_used = nodes_used + $34, storage_used = storage_used + $35
    WHERE id = $1
)
SELECT count(*) AS saved FROM saved
"""
_SAVE_COLLAB_SYNCED = prepared(_UPDATE.values(collab_version=bindparam("new_version")))


async def _load(uow: TenantUnitOfWork, flow_id: str, *, lock: bool, deleted: bool = False) -> Any:
    row = (await uow.run(_LOAD[deleted, lock], {"flow_id": flow_id})).first()
    if row is None:
        raise NotFound("No such flow.")
    return row


def _emit_flow(
    uow: TenantUnitOfWork, flow_id: str, version: int | None, *, deleted: bool = False
) -> None:
    extra = {"deleted": True} if deleted else {}
    uow.emit(Event(uow.org_id, "flow", (flow_id,), version, extra))
    uow.emit(Event(uow.org_id, "usage"))


async def create_flow(
    uow: TenantUnitOfWork, settings: Settings, body: Any, meta: RequestMeta
) -> FlowResult:
    doc = validate_document(settings, body, require_name=True)
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
    await uow.execute(
        uow.insert(
            flows,
            id=flow_id,
            name=doc["name"],
            document=document,
            node_count=len(doc["nodes"]),
            edge_count=len(doc["edges"]),
            size_bytes=len(document),
            history_bytes=len(payload.payload),
            version=1,
            created_by=author,
            created_at=now,
            last_modified=now,
            deleted_at=None,
        )
    )
    await flow_history.append(uow, flow_id, 1, author, now, payload)
    await audit.record(
        uow,
        "flow.create",
        "flow",
        flow_id,
        meta=meta,
        details={"name": doc["name"], "version": 1, **payload.summary},
    )
    _emit_flow(uow, flow_id, 1)
    row = await _load(uow, flow_id, lock=False)
    return FlowResult(render_flow(row), 1, usage, org)


async def get_flow(uow: TenantUnitOfWork, flow_id: str) -> FlowResult:
    row = await _load(uow, flow_id, lock=False)
    return FlowResult(render_flow(row), row.version)


async def list_flows(
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


class VersionWriter:
    """New versions of one locked flow row, prepared in memory and written by one flush.

    :meth:`add` does everything a change needs before it can be written (the next version
    number, its history payload, the quota check against the org's counters as the
    earlier changes left them, its audit event chained onto the previous one) and changes
    nothing when that check fails, so a caller may skip that change and go on with others.
    :meth:`flush` writes them all: the flow row once, conditional on the version it was
    read at; the version rows and the audit rows in one statement each; the counters once.
    """

    def __init__(self, uow: TenantUnitOfWork, row: Any, org: Any, head: audit.ChainHead) -> None:
        self._uow = uow
        self._seen_version = row.version
        self.row = row
        """The flow as the changes added so far leave it (row fields, ``document`` bytes)."""
        self.indexed: IndexedFlow | None = None
        """:attr:`row`'s document indexed by entity, when known."""
        self._org = org
        self._usage = usage_of(org)
        self._limits = limits_of(org)
        self._head = head
        self._versions: list[flow_history.NewVersion] = []
        self._events: list[dict[str, Any]] = []
        self._added_nodes = 0
        self._added_storage = 0
        self._history_growth = 0
        self._collab_synced = False

    @classmethod
    async def open_flow(cls, uow: TenantUnitOfWork, flow_id: str) -> VersionWriter:
        """A writer for the flow ``flow_id``, read (and locked) with the org's counters
        and the audit chain's head in one statement."""
        row = (await uow.run(_OPEN_FOR_SAVES, {"flow_id": flow_id})).first()
        if row is None:
            raise NotFound("No such flow.")
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
        self._events.append(event)
        self._versions.append(
            flow_history.NewVersion(
                row.id,
                version,
                author_id(principal),
                now,
                payload,
                # The version's whole document as JSON, spliced from the stored bytes.
                b'{"name":' + orjson.dumps(after["name"]) + b"," + document[1:],
            )
        )
        self._usage = usage
        self._added_nodes += nodes
        self._added_storage += storage
        self._history_growth += len(payload.payload)
        self._collab_synced = collab_synced
        self.row = SimpleNamespace(
            id=row.id,
            organization_id=uow.org_id,
            name=after["name"],
            created_by=row.created_by,
            version=version,
            last_modified=now,
            document=document,
            node_count=len(after["nodes"]),
            edge_count=len(after["edges"]),
            size_bytes=len(document),
        )
        self.indexed = indexed
        _emit_flow(uow, row.id, version)
        cache = uow.cache
        if indexed is not None and cache is not None:
            key = (uow.org_id, row.id, version)
            uow.on_commit.append(lambda: cache.indexed.put(key, indexed))
        return FlowResult(render_flow(self.row, document, extra), version, usage, self._org)

    async def flush(self) -> None:
        """Write every added version (nothing when none was added)."""
        if not self._versions:
            return
        uow, row = self._uow, self.row
        if uow.is_postgres:
            await self._flush_postgres()
        else:
            await self._flush_statements()
        self._versions, self._events = [], []
        self._seen_version = row.version
        self._added_nodes = self._added_storage = self._history_growth = 0

    async def _flush_statements(self) -> None:
        uow, row = self._uow, self.row
        result = await uow.run(
            _SAVE_COLLAB_SYNCED if self._collab_synced else _SAVE,
            {
                "flow_id": row.id,
                "seen_version": self._seen_version,
                "new_name": row.name,
                "new_document": row.document,
                "new_node_count": row.node_count,
                "new_edge_count": row.edge_count,
                "new_size_bytes": row.size_bytes,
                "history_growth": self._history_growth,
                "new_version": row.version,
                "now": row.last_modified,
            },
        )
        if result.rowcount != 1:
            # Writers of one org are serialized, so this means a bug, never a silent overwrite.
            raise VersionConflict(details={"currentVersion": self._seen_version})
        await flow_history.append_many(uow, self._versions)
        await audit.insert_events(uow, self._events)
        await add_to_counters(uow, nodes=self._added_nodes, storage=self._added_storage)

    async def _flush_postgres(self) -> None:
        """:meth:`flush` in one round trip: the writers' critical section on PostgreSQL
        is mostly round trips, each also a turn of the event loop."""
        uow, row = self._uow, self.row
        flow_history.cache_on_commit(uow, self._versions)
        versions, events = self._versions, self._events
        saved = await uow.run_postgres(
            _FLUSH_POSTGRES,
            row.id,
            self._seen_version,
            row.name,
            row.document,
            row.node_count,
            row.edge_count,
            row.size_bytes,
            self._history_growth,
            row.version,
            row.last_modified,
            self._collab_synced,
            [v.version for v in versions],
            [v.author for v in versions],
            [v.at for v in versions],
            [orjson.dumps(v.payload.summary).decode() for v in versions],
            [v.payload.kind for v in versions],
            [v.payload.payload for v in versions],
            [len(v.payload.payload) for v in versions],
            *(_event_column(events, key) for key in _EVENT_COLUMNS),
            self._added_nodes,
            self._added_storage,
        )
        if saved[0]["saved"] != 1:
            # Writers of one org are serialized, so this means a bug, never a silent overwrite.
            raise VersionConflict(details={"currentVersion": self._seen_version})


def _event_column(events: list[dict[str, Any]], key: str) -> list[Any]:
    """One audit column of ``events`` as ``_FLUSH_POSTGRES`` takes it (``details`` as JSON
    text, as the ``JSONText`` column type binds it on the other path)."""
    if key == "details":
        return [orjson.dumps(e[key]).decode() for e in events]
    return [e[key] for e in events]


async def _commit_change(
    uow: TenantUnitOfWork,
    writer: VersionWriter,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    action: str,
    meta: RequestMeta,
    details: dict[str, Any] | None = None,
    collab_synced: bool = False,
) -> FlowResult:
    """Store ``after`` as the next version of ``writer.row`` (which shows ``before``)."""
    result = writer.add(
        before,
        after,
        principal=uow.principal,
        action=action,
        meta=meta,
        details=details,
        collab_synced=collab_synced,
    )
    await writer.flush()
    return result


@dataclass(frozen=True, slots=True)
class SaveJob:
    """One ``PUT`` of a flow, validated (:func:`validate_save`), by whom and from where."""

    request: SaveRequest
    principal: Principal
    meta: RequestMeta


async def save_flows(
    uow: TenantUnitOfWork, settings: Settings, flow_id: str, jobs: Sequence[SaveJob]
) -> list[FlowResult | MinibaseError]:
    """``PUT``s of one flow, in order, as consecutive versions written together: each
    one's result, or the error that refused it alone (the others are unaffected).

    A save whose base version is stale is merged three ways. Validation ran before the
    write transaction (:func:`validate_save`), so the writers' critical section does not
    pay for it.
    """
    writer = await VersionWriter.open_flow(uow, flow_id)
    results: list[FlowResult | MinibaseError] = []
    for job in jobs:
        try:
            results.append(await _save_one(uow, settings, writer, job))
        except MinibaseError as refused:
            results.append(refused)
    await writer.flush()
    return results


async def _save_one(
    uow: TenantUnitOfWork, settings: Settings, writer: VersionWriter, job: SaveJob
) -> FlowResult:
    row, request = writer.row, job.request
    base_version = request.base_version
    if base_version < 1 or base_version > row.version:
        raise VersionConflict(
            f"baseVersion {base_version} does not exist (current {row.version}).",
            {"currentVersion": row.version},
        )
    conflicts: list[dict[str, Any]] = []
    dropped: list[str] = []
    # Untouched entities as shared objects on every side: the merge, the diff and the
    # history delta then compare only what changed (see domain/flow_index).
    if base_version == row.version:
        current = writer.indexed or _indexed(uow, row)
        incoming = request.doc
        if request.interned_with is not current:
            incoming = intern(incoming, current)[0]
        merged = {**incoming, "name": incoming.get("name", current.doc["name"])}
        parents: tuple[IndexedFlow, ...] = (current,)
    else:
        base = await flow_history.indexed_at(uow, row.id, base_version)
        current = writer.indexed or _indexed(uow, row, align_with=base)
        incoming = request.doc
        if request.interned_with is not base:
            incoming = intern(incoming, base, current)[0]
        incoming = {**incoming, "name": incoming.get("name", base.doc["name"])}
        outcome = merge_flows(base.doc, current.doc, incoming)
        merged = {"name": current.doc["name"], **outcome.flow_doc}
        conflicts, dropped = outcome.conflicts, outcome.dropped_edges
        parents = (current, base)
    writer.indexed = current
    after = index_flow(merged, *parents)
    document = encoded_document(after)
    if base_version != row.version:
        # A merge of valid documents is valid, but it can be larger than either.
        check_limits(
            merged,
            max_nodes=settings.max_flow_nodes,
            max_edges=settings.max_flow_edges,
            max_bytes=settings.max_flow_bytes,
            size=document_size(merged["name"], document),
        )
    extra = {"conflicts": conflicts, "droppedEdges": dropped}
    if merged["name"] == current.doc["name"] and document == row.document:
        return FlowResult(render_flow(row, extra=extra), row.version)
    return writer.add(
        current.doc,
        merged,
        principal=job.principal,
        action="flow.update",
        meta=job.meta,
        details={"baseVersion": base_version, "conflicts": len(conflicts)},
        extra=extra,
        indexed=after,
        document=document,
    )


async def patch_flow(
    uow: TenantUnitOfWork,
    settings: Settings,
    flow_id: str,
    ops: Any,
    meta: RequestMeta,
) -> FlowResult:
    """``PATCH``: apply ``ops`` all together or not at all."""
    writer = await VersionWriter.open_flow(uow, flow_id)
    row = writer.row
    current = _document_of(row)
    changed = validate_document(settings, apply_ops(current, ops))
    changed.setdefault("name", current["name"])
    if changed == current:
        return FlowResult(render_flow(row), row.version)
    return await _commit_change(
        uow, writer, current, changed, action="flow.patch", meta=meta, details={"ops": len(ops)}
    )


async def restore_version(
    uow: TenantUnitOfWork, flow_id: str, version: int, meta: RequestMeta
) -> FlowResult:
    """Make ``version``'s content the newest version."""
    writer = await VersionWriter.open_flow(uow, flow_id)
    row = writer.row
    if version < 1 or version > row.version:
        raise NotFound("No such version.")
    target = await flow_history.document_at(uow, flow_id, version)
    current = _document_of(row)
    return await _commit_change(
        uow,
        writer,
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


async def delete_flow(uow: TenantUnitOfWork, flow_id: str, meta: RequestMeta) -> None:
    """Move the flow to the trash and delete its outputs."""
    row = await _load(uow, flow_id, lock=True)
    outputs_size = await _outputs_size(uow, flow_id)
    await uow.execute(uow.delete(node_outputs).where(node_outputs.c.flow_id == flow_id))
    await uow.execute(uow.update(flows).where(flows.c.id == flow_id).values(deleted_at=now_ms()))
    await charge(uow, flows=-1, nodes=-row.node_count, storage=-outputs_size)
    await audit.record(
        uow,
        "flow.delete",
        "flow",
        flow_id,
        meta=meta,
        details={"name": row.name, "outputsDeleted": outputs_size > 0},
    )
    _emit_flow(uow, flow_id, None, deleted=True)
    uow.emit(Event(uow.org_id, "outputs", (flow_id,)))


async def restore_flow(uow: TenantUnitOfWork, flow_id: str, meta: RequestMeta) -> FlowResult:
    """Bring a flow back from the trash (quotas apply again)."""
    row = await _load(uow, flow_id, lock=True, deleted=True)
    if row.deleted_at <= now_ms() - TRASH_RETENTION_MS:
        raise NotFound("No such flow.")
    doc = _document_of(row)
    usage, org = await charge(uow, flows=1, nodes=row.node_count, node_types=doc["nodes"])
    await uow.execute(uow.update(flows).where(flows.c.id == flow_id).values(deleted_at=None))
    await audit.record(uow, "flow.restore", "flow", flow_id, meta=meta)
    _emit_flow(uow, flow_id, row.version)
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


def version_view(current_body: bytes, doc: dict[str, Any], row: Any) -> dict[str, Any]:
    """A past version in the flow's shape (``version``/``lastModified`` of that version)."""
    current = orjson.loads(current_body)
    return {
        "id": current["id"],
        "organizationId": current["organizationId"],
        "name": doc["name"],
        "nodes": doc["nodes"],
        "edges": doc["edges"],
        "createdBy": current["createdBy"],
        "version": row.version,
        "lastModified": row.created_at,
        "versionCreatedBy": row.created_by,
    }


async def save_collab(
    uow: TenantUnitOfWork,
    settings: Settings,
    flow_id: str,
    flow_json: dict[str, Any],
    meta: RequestMeta,
) -> FlowResult | None:
    """Materialize a collab room's document as the next version (``None``: no change).

    When REST moved the flow past the version the room last agreed with and the room has
    not caught up yet, the room's document is merged onto the flow instead of replacing
    it, so that REST change survives (and reaches the room when it catches up).
    """
    writer = await VersionWriter.open_flow(uow, flow_id)
    row = writer.row
    current = _document_of(row)
    incoming = validate_document(
        settings,
        {
            "name": flow_json.get("name") or current["name"],
            "nodes": flow_json.get("nodes", []),
            "edges": flow_json.get("edges", []),
        },
    )
    synced = row.collab_version is None or row.collab_version == row.version
    if not synced:
        base = await flow_history.document_at(uow, flow_id, row.collab_version)
        incoming = validate_document(settings, merge_flows(base, current, incoming).flow_doc)
        incoming.setdefault("name", current["name"])
    if incoming == current:
        return None
    return await _commit_change(
        uow,
        writer,
        current,
        incoming,
        action="flow.collab_edit",
        meta=meta,
        collab_synced=synced,
    )


async def mark_collab_synced(uow: TenantUnitOfWork, flow_id: str, version: int) -> None:
    """The live document of ``flow_id`` now includes ``version``."""
    await uow.execute(uow.update(flows).where(flows.c.id == flow_id).values(collab_version=version))
