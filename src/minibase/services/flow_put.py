"""The save pipeline of a flow ``PUT``: :func:`prepare_save`, then :func:`save_flows`.

:func:`prepare_save` runs before the write transaction, so the writers' critical section
does not pay for it: the body is read against the cached version it edits (runs of
entities byte-identical to it become its objects, only changed entities are parsed:
``domain/flow_reader``), checked, and validated (only what the request changed). Group
commit (``services/flow_saves.py``) then queues it, and :func:`save_flows` writes the
saves that queued up for one flow as consecutive versions in one transaction, a stale
base merged three ways, through one :class:`~minibase.services.flow_changes.FlowChanges`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from minibase.config import Settings
from minibase.domain.flow_graph import check_limits, document_size
from minibase.domain.flow_index import IndexedFlow, align, encoded_document, index_flow, intern
from minibase.domain.flow_reader import read_against
from minibase.domain.json_values import parse_json_object
from minibase.domain.merge import merge_flows
from minibase.domain.principal import Principal
from minibase.domain.trusted import Trusted
from minibase.errors import MinibaseError, PreconditionRequired, ValidationFailed, VersionConflict
from minibase.services import flow_history
from minibase.services.audit import RequestMeta
from minibase.services.flow_changes import FlowChanges
from minibase.services.flow_render import FlowResult, document_of, render_flow
from minibase.services.flows import validate_document
from minibase.store.hot_cache import HotCache
from minibase.store.unit_of_work import TenantUnitOfWork


@dataclass(frozen=True, slots=True)
class SaveRequest:
    """A validated ``PUT``: its document and the version it edits."""

    doc: dict[str, Any]
    base_version: int
    interned_with: IndexedFlow | None = None
    """The cached base version whose untouched entities ``doc`` already shares."""


@dataclass(frozen=True, slots=True)
class SaveJob:
    """One ``PUT`` of a flow, validated (:func:`prepare_save`), by whom and from where."""

    request: SaveRequest
    principal: Principal
    meta: RequestMeta


@dataclass(frozen=True, slots=True)
class BodyRead:
    """A ``PUT`` body read against the cached version it edits (``domain/flow_reader``)."""

    body: dict[str, Any]
    known: IndexedFlow
    trusted: Trusted
    """The entities ``body`` took from ``known``."""


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


def _base_version(body: dict[str, Any]) -> int:
    if "baseVersion" not in body or body["baseVersion"] is None:
        raise PreconditionRequired("A flow PUT needs `baseVersion` (the version it edits).")
    base = body["baseVersion"]
    if not isinstance(base, int) or isinstance(base, bool):
        raise ValidationFailed(
            [{"field": "baseVersion", "message": "Must be an integer.", "type": "int_type"}]
        )
    return base


def prepare_save(
    settings: Settings,
    cache: HotCache | None,
    org_id: str,
    flow_id: str,
    raw: bytes,
    principal: Principal,
    meta: RequestMeta,
) -> SaveJob:
    """A ``PUT``'s raw JSON body, read, checked and validated before the write
    transaction: 400/412/422 as the contract says, or the job to queue.

    Most of a save is what the server holds already: when the version it edits is in the
    instance's cache, only what the request changed is parsed and validated (a save's
    base is usually the current version, or a recent one).
    """
    read = read_against_cache(cache, org_id, flow_id, raw) if cache is not None else None
    body = read.body if read is not None else parse_json_object(raw)
    base_version = _base_version(body)
    for key in ("nodes", "edges"):
        if key not in body:
            raise ValidationFailed(
                [{"field": key, "message": "Field required.", "type": "missing"}]
            )
    doc = {k: body[k] for k in ("name", "nodes", "edges") if k in body}
    if read is not None:
        valid = validate_document(settings, doc, trusted=read.trusted)
        request = SaveRequest(valid, base_version, read.known)
    else:
        base = cache.indexed.get((org_id, flow_id, base_version)) if cache is not None else None
        valid = validate_document(settings, doc, known=(base,) if base is not None else ())
        request = SaveRequest(valid, base_version, base)
    return SaveJob(request, principal, meta)


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
        cached = index_flow(document_of(row))
        if align_with is not None:
            cached = align(cached, align_with)
        if uow.cache is not None:
            uow.cache.indexed.put(key, cached)
    return cached


async def save_flows(
    uow: TenantUnitOfWork, settings: Settings, flow_id: str, jobs: Sequence[SaveJob]
) -> list[FlowResult | MinibaseError]:
    """``PUT``s of one flow, in order, as consecutive versions written together: each
    one's result, or the error that refused it alone (the others are unaffected).

    A save whose base version is stale is merged three ways. Validation ran before the
    write transaction (:func:`prepare_save`), so the writers' critical section does not
    pay for it.
    """
    changes = await FlowChanges.open_flow(uow, flow_id)
    results: list[FlowResult | MinibaseError] = []
    for job in jobs:
        try:
            results.append(await _save_one(uow, settings, changes, job))
        except MinibaseError as refused:
            results.append(refused)
    await changes.flush()
    return results


async def _save_one(
    uow: TenantUnitOfWork, settings: Settings, changes: FlowChanges, job: SaveJob
) -> FlowResult:
    row, request = changes.row, job.request
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
        current = changes.indexed or _indexed(uow, row)
        incoming = request.doc
        if request.interned_with is not current:
            incoming = intern(incoming, current)[0]
        merged = {**incoming, "name": incoming.get("name", current.doc["name"])}
        parents: tuple[IndexedFlow, ...] = (current,)
    else:
        base = await flow_history.indexed_at(uow, row.id, base_version)
        current = changes.indexed or _indexed(uow, row, align_with=base)
        incoming = request.doc
        if request.interned_with is not base:
            incoming = intern(incoming, base, current)[0]
        incoming = {**incoming, "name": incoming.get("name", base.doc["name"])}
        outcome = merge_flows(base.doc, current.doc, incoming)
        merged = {"name": current.doc["name"], **outcome.flow_doc}
        conflicts, dropped = outcome.conflicts, outcome.dropped_edges
        parents = (current, base)
    changes.indexed = current
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
    return changes.add(
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
