"""Version history of flows: one row per version, snapshots plus deltas.

See ``docs/history.md`` for the storage scheme (``domain/history.py``): every K-th
version is a compressed snapshot, the others compressed deltas against the previous
version, so history grows with what changed, not with the flow's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import func

from minibase.domain.flow_diff import diff_flows, entity_changes, summarize, summary_of
from minibase.domain.flow_index import IndexedFlow, index_flow
from minibase.domain.history import encode, rebuild
from minibase.errors import NotFound
from minibase.services.pagination import keyset, page
from minibase.store.tables import flow_versions
from minibase.store.unit_of_work import TenantUnitOfWork, prepared, scoped_insert

EMPTY_FLOW: dict[str, Any] = {"name": "", "nodes": [], "edges": []}

_INSERT = prepared(scoped_insert(flow_versions))


@dataclass(frozen=True, slots=True)
class VersionPayload:
    kind: str
    payload: bytes
    summary: dict[str, int]
    document: dict[str, Any] | None = None
    """The version's whole document (kept in the cache of past versions)."""


def new_version_payload(
    before: dict[str, Any] | None, after: dict[str, Any], version: int
) -> VersionPayload:
    encoded = encode(before, after, version)
    if encoded.touched is None:
        summary = summarize(diff_flows(before or EMPTY_FLOW, after))
    else:
        # The delta already found every candidate; only those need the diff's equality.
        counts = {
            key: (
                touched.added,
                touched.removed,
                sum(1 for old, new in touched.changed if entity_changes(old, new)),
            )
            for key, touched in encoded.touched.items()
        }
        summary = summary_of(nodes=counts["nodes"], edges=counts["edges"])
    return VersionPayload(encoded.kind, encoded.payload, summary, after)


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A version row to write (:func:`append_many`)."""

    flow_id: str
    version: int
    author: str
    at: int
    payload: VersionPayload
    document: bytes | None = None
    """The version's whole document as JSON, when already encoded (for the cache)."""


async def append(
    uow: TenantUnitOfWork,
    flow_id: str,
    version: int,
    author: str,
    at: int,
    payload: VersionPayload,
) -> None:
    await append_many(uow, [NewVersion(flow_id, version, author, at, payload)])


async def append_many(uow: TenantUnitOfWork, versions: Sequence[NewVersion]) -> None:
    """Write version rows (one statement); once committed, their documents are cached."""
    cache_on_commit(uow, versions)
    sealer = await uow.sealer()
    await uow.execute(
        _INSERT,
        [
            sealer.seal_values(flow_versions, {"flow_id": v.flow_id, **version_columns(v)})
            for v in versions
        ],
    )


def version_columns(version: NewVersion) -> dict[str, Any]:
    """The version row's columns (but its org and flow), by name."""
    return {
        "version": version.version,
        "created_by": version.author,
        "created_at": version.at,
        "summary": version.payload.summary,
        "kind": version.payload.kind,
        "payload": version.payload.payload,
        "size_bytes": len(version.payload.payload),
    }


def cache_on_commit(uow: TenantUnitOfWork, versions: Sequence[NewVersion]) -> None:
    """Cache the documents of ``versions`` once ``uow`` commits (written by the caller)."""
    cache = uow.cache
    if cache is not None:
        # Only once committed: a rolled-back version's number is taken by the next one.
        org = uow.org_id
        documents = [
            ((org, v.flow_id, v.version), v.document or v.payload.document)
            for v in versions
            if v.document is not None or v.payload.document is not None
        ]

        def cache_documents() -> None:
            for key, document in documents:
                encoded = document if isinstance(document, bytes) else orjson.dumps(document)
                cache.versions.put(key, encoded)

        uow.on_commit.append(cache_documents)


async def document_at(uow: TenantUnitOfWork, flow_id: str, version: int) -> dict[str, Any]:
    """The flow document as it was at ``version``: nearest snapshot, then deltas.

    Recent versions come from the instance's cache.
    """
    cache = uow.cache
    if cache is not None:
        cached = cache.versions.get((uow.org_id, flow_id, version))
        if cached is not None:
            doc: dict[str, Any] = orjson.loads(cached)
            return doc
    doc = await _rebuild_at(uow, flow_id, version)
    if cache is not None:
        cache.versions.put((uow.org_id, flow_id, version), orjson.dumps(doc))
    return doc


async def indexed_at(uow: TenantUnitOfWork, flow_id: str, version: int) -> IndexedFlow:
    """:func:`document_at`, indexed by entity (shared: never modify it)."""
    key = (uow.org_id, flow_id, version)
    if uow.cache is not None:
        cached = uow.cache.indexed.get(key)
        if cached is not None:
            return cached
    indexed = index_flow(await document_at(uow, flow_id, version))
    if uow.cache is not None:
        uow.cache.indexed.put(key, indexed)
    return indexed


async def _rebuild_at(uow: TenantUnitOfWork, flow_id: str, version: int) -> dict[str, Any]:
    fv = flow_versions.c
    # One round trip: the nearest snapshot at or before ``version``, then every row after.
    snapshot = (
        uow.select(flow_versions, func.max(fv.version))
        .where(fv.flow_id == flow_id, fv.kind == "snapshot", fv.version <= version)
        .scalar_subquery()
    )
    rows = (
        await uow.execute(
            uow.select(flow_versions, fv.version, fv.kind, fv.payload)
            .where(fv.flow_id == flow_id, fv.version >= snapshot, fv.version <= version)
            .order_by(fv.version)
        )
    ).all()
    if not rows or rows[-1].version != version:
        raise NotFound("No such version.")
    sealer, payload = await uow.sealer(), flow_versions.c.payload
    return rebuild(
        [(r.kind, sealer.open(payload, f"{flow_id}/{r.version}", r.payload)) for r in rows]
    )


async def version_row(uow: TenantUnitOfWork, flow_id: str, version: int) -> Any:
    fv = flow_versions.c
    row = (
        await uow.execute(
            uow.select(flow_versions, fv.version, fv.created_by, fv.created_at, fv.summary).where(
                fv.flow_id == flow_id, fv.version == version
            )
        )
    ).first()
    if row is None:
        raise NotFound("No such version.")
    return row


def version_json(row: Any) -> dict[str, Any]:
    return {
        "version": row.version,
        "createdBy": row.created_by,
        "createdAt": row.created_at,
        "summary": row.summary,
    }


async def list_versions(
    uow: TenantUnitOfWork, flow_id: str, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Versions, newest first."""
    fv = flow_versions.c
    stmt = uow.select(flow_versions, fv.version, fv.created_by, fv.created_at, fv.summary).where(
        fv.flow_id == flow_id
    )
    stmt = keyset(stmt, [fv.version], cursor, limit, descending=True)
    rows = (await uow.execute(stmt)).all()
    return page(rows, limit, render=version_json, key=lambda r: [r.version])


async def diff_versions(uow: TenantUnitOfWork, flow_id: str, a: int, b: int) -> dict[str, Any]:
    doc_a = await document_at(uow, flow_id, a)
    doc_b = await document_at(uow, flow_id, b)
    diff = diff_flows(doc_a, doc_b)
    return {"from": a, "to": b, "summary": summarize(diff), "changes": diff.to_json()}
