"""Export one organization as a ``minibase-org`` archive, streamed as it is written.

The zip is produced page by page inside one read transaction and handed out in chunks,
so memory stays flat whatever the org's size. What the archive holds is described in
:mod:`minibase.domain.org_archive`. The cut is consistent: the audit chain up to its
head when the export began, every flow with its versions up to the flow's version, and
outputs written before the export began.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import orjson
from sqlalchemy import LargeBinary, Table, func, select, tuple_

from minibase import __version__
from minibase.crypto.passphrase import seal_stream
from minibase.domain import org_archive as fmt
from minibase.domain.byte_sink import ByteSink
from minibase.domain.principal import Principal
from minibase.ids import now_ms
from minibase.store.tables import (
    audit_events,
    flow_versions,
    flows,
    memberships,
    metadata,
    node_outputs,
    organizations,
    users,
)
from minibase.store.unit_of_work import Store, TenantUnitOfWork

PAGE_ROWS = 1000
PAGE_ROWS_BINARY = 100


def exported_tables() -> list[Table]:
    """Tenant tables that travel, parents before children."""
    return [
        t for t in metadata.sorted_tables if t.info.get("tenant") and t.name not in fmt.NOT_EXPORTED
    ]


def binary_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.c if isinstance(c.type, LargeBinary))


class _Member:
    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.sha256 = hashlib.sha256()
        self.bytes = 0
        self.rows = 0

    def line(self, value: Any) -> None:
        data = orjson.dumps(value) + b"\n"
        self.stream.write(data)
        self.sha256.update(data)
        self.bytes += len(data)
        self.rows += 1

    def summary(self) -> dict[str, Any]:
        return {"sha256": self.sha256.hexdigest(), "bytes": self.bytes, "rows": self.rows}


async def _pages(
    uow: TenantUnitOfWork, table: Table, where: Any = None
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every row of ``table`` in this org, in primary-key order, a page at a time."""
    keys = [c for c in table.primary_key.columns if c.name != "organization_id"]
    size = PAGE_ROWS_BINARY if binary_columns(table) else PAGE_ROWS
    last: tuple[Any, ...] | None = None
    while True:
        stmt = uow.select(table).order_by(*keys).limit(size)
        if where is not None:
            stmt = stmt.where(where)
        if last is not None:
            stmt = stmt.where(tuple_(*keys) > tuple_(*last))
        # The archive holds the plain values (sealed again under the importing org's key).
        sealer = await uow.sealer()
        rows = [
            sealer.open_values(table, {str(k): v for k, v in r._mapping.items()})
            for r in (await uow.execute(stmt)).all()
        ]
        if rows:
            yield rows
        if len(rows) < size:
            return
        last = tuple(rows[-1][k.name] for k in keys)


async def export_org(store: Store, principal: Principal, org_id: str) -> AsyncIterator[bytes]:
    """The archive of ``org_id``, chunk by chunk (the caller checked the caller's role)."""
    sink = ByteSink()
    archive = zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=1)
    files: dict[str, dict[str, Any]] = {}
    started = now_ms()
    async with store.tenant(org_id, principal) as uow:
        org = (await uow.execute(uow.select(organizations))).one()._mapping
        head = (await uow.execute(uow.select(audit_events, func.max(audit_events.c.seq)))).scalar()
        with archive.open(fmt.ORGANIZATION, "w") as stream:
            member = _Member(stream)
            data = orjson.dumps({k: org[k] for k in fmt.ORG_FIELDS})
            stream.write(data)
            member.sha256.update(data)
            member.bytes, member.rows = len(data), 1
        files[fmt.ORGANIZATION] = member.summary()

        with archive.open(fmt.MEMBERS, "w", force_zip64=True) as stream:
            member = _Member(stream)
            stmt = (
                select(users.c.email, users.c.name, memberships.c.role, memberships.c.created_at)
                .select_from(memberships.join(users, users.c.id == memberships.c.user_id))
                .where(memberships.c.organization_id == org_id)
                .order_by(users.c.email)
            )
            for m in (await uow.execute(stmt)).all():
                member.line(
                    {"email": m.email, "name": m.name, "role": m.role, "createdAt": m.created_at}
                )
        files[fmt.MEMBERS] = member.summary()
        yield sink.drain()

        flow_versions_cut: dict[str, int] = {}
        for table in exported_tables():
            where: Any = None
            if table is audit_events:
                where = audit_events.c.seq <= (head or 0)
            elif table is node_outputs:
                where = node_outputs.c.timestamp <= started
            binary = binary_columns(table)
            name = fmt.file_of(table.name)
            with archive.open(name, "w", force_zip64=True) as stream:
                member = _Member(stream)
                async for page in _pages(uow, table, where):
                    for row in page:
                        if table is flows:
                            flow_versions_cut[row["id"]] = row["version"]
                        elif table is flow_versions and row["version"] > flow_versions_cut.get(
                            row["flow_id"], 0
                        ):
                            continue  # written after its flow was read
                        member.line(fmt.encode_row(row, binary))
                    yield sink.drain()
            files[name] = member.summary()
    manifest = {
        "format": fmt.FORMAT,
        "formatVersion": fmt.FORMAT_VERSION,
        "minibaseVersion": __version__,
        "exportedAt": started,
        "organizationId": org_id,
        "counts": {
            name.split(".", 1)[0]: info["rows"]
            for name, info in files.items()
            if name != fmt.ORGANIZATION
        },
        "files": files,
    }
    archive.writestr(fmt.MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    archive.close()
    yield sink.drain()


def export_stream(
    store: Store, principal: Principal, org_id: str, passphrase: str | None
) -> AsyncIterator[bytes]:
    """The archive of ``org_id``, sealed with ``passphrase`` when one is given."""
    chunks = export_org(store, principal, org_id)
    return seal_stream(chunks, passphrase) if passphrase else chunks
