"""Writing new versions of one flow: its row, its version rows, their audit rows, the
org's counters, in one transaction that the caller opened.

The columns a new version sets on the flow row are named once, by :class:`FlowState`;
both ways of writing are built from that list (and from the tables' own columns for the
version and audit rows), so a column added to flows is one field here plus the table
and its migration:

- SQLite: four prepared statements (flow row, version rows, audit rows, counters), run
  on the event loop in microseconds;
- PostgreSQL: one statement of data-modifying CTEs (arrays unnested into the version and
  audit rows), one round trip inside the writers' critical section. The CTEs see one
  snapshot and all run; a flow that moved on makes ``saved`` 0, and the error raised then
  rolls everything back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import Column, bindparam
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from minibase.errors import VersionConflict
from minibase.store.compiled import PostgresPrepared
from minibase.store.tables import audit_events, flow_versions, flows, organizations
from minibase.store.unit_of_work import (
    TenantUnitOfWork,
    prepared,
    prepared_postgres,
    scoped_insert,
    scoped_update,
)


@dataclass(frozen=True, slots=True)
class FlowState:
    """A flow row as a version leaves it: who it is (``id``, ``organization_id``,
    ``created_by``), then every column a new version writes (:data:`WRITTEN`)."""

    id: str
    organization_id: str
    created_by: str
    name: str
    document: bytes
    """The document's nodes and edges as stored JSON bytes."""
    node_count: int
    edge_count: int
    size_bytes: int
    version: int
    last_modified: int

    @classmethod
    def of(cls, row: Any) -> FlowState:
        """The state of a flow row read from the database."""
        return cls(*(getattr(row, f.name) for f in fields(cls)))

    def written(self) -> dict[str, Any]:
        """The columns a version writes, by name."""
        return {name: getattr(self, name) for name in WRITTEN}


WRITTEN: tuple[str, ...] = tuple(f.name for f in fields(FlowState))[3:]
"""The flow row's columns each new version sets (besides ``history_bytes``, which grows
by the versions' payloads, and ``collab_version``, set when the live document has them)."""

VERSION_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in flow_versions.c if c.name not in ("organization_id", "flow_id")
)
"""A version row's columns besides its org and flow (one dict key each)."""
EVENT_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in audit_events.c if c.name != "organization_id"
)
"""An audit row's columns besides its org (one dict key each)."""


@dataclass(slots=True)
class VersionWriter:
    """The versions of one flow to write, added in order, written by :meth:`flush`.

    ``seen_version``: the version the flow row had when read (locked); the write is
    conditional on it. Each version comes with its state of the flow row, its version row
    and its audit row (dicts by column name, see :data:`VERSION_COLUMNS` and
    :data:`EVENT_COLUMNS`) and what it adds to the org's counters, all admitted already.
    """

    uow: TenantUnitOfWork
    seen_version: int
    state: FlowState | None = None
    versions: list[Mapping[str, Any]] = field(default_factory=list)
    events: list[Mapping[str, Any]] = field(default_factory=list)
    history_growth: int = 0
    added_nodes: int = 0
    added_storage: int = 0
    collab_synced: bool = False

    def add(
        self,
        state: FlowState,
        version: Mapping[str, Any],
        event: Mapping[str, Any],
        *,
        nodes: int,
        storage: int,
        history: int,
        collab_synced: bool,
    ) -> None:
        """One more version: the flow row as it leaves it, its version and audit rows."""
        self.state = state
        self.versions.append(version)
        self.events.append(event)
        self.added_nodes += nodes
        self.added_storage += storage
        self.history_growth += history
        self.collab_synced = collab_synced

    async def flush(self) -> None:
        """Write every added version (nothing when none was added); raises
        ``VersionConflict`` when the flow row is no longer at :attr:`seen_version` (writers
        of one org are serialized, so that means a bug, never a silent overwrite)."""
        if self.state is None or not self.versions:
            return
        # Encryption at rest: what is written is sealed here, the one writer of versions
        # (the flow row's document and each version's payload, bound to their rows).
        sealer = await self.uow.sealer()
        state = self.state
        if sealer.sealing:
            state = replace(state, document=sealer.seal(flows.c.document, state.id, state.document))
            payload = flow_versions.c.payload
            self.versions = [
                {**v, "payload": sealer.seal(payload, f"{state.id}/{v['version']}", v["payload"])}
                for v in self.versions
            ]
        if self.uow.is_postgres:
            saved = await self._flush_postgres(state)
        else:
            saved = await self._flush_statements(state)
        if not saved:
            raise VersionConflict(details={"currentVersion": self.seen_version})
        self.seen_version = self.state.version
        self.versions, self.events = [], []
        self.history_growth = self.added_nodes = self.added_storage = 0

    async def _flush_statements(self, state: FlowState) -> bool:
        uow = self.uow
        params = {f"new_{name}": value for name, value in state.written().items()}
        result = await uow.execute(
            _SAVE_COLLAB_SYNCED if self.collab_synced else _SAVE,
            {
                "flow_id": state.id,
                "seen_version": self.seen_version,
                "history_growth": self.history_growth,
                **params,
            },
        )
        if result.rowcount != 1:
            return False
        await uow.execute(_INSERT_VERSIONS, [{"flow_id": state.id, **v} for v in self.versions])
        await uow.execute(_INSERT_EVENTS, self.events)
        await uow.execute(
            _ADD_TO_COUNTERS, {"add_nodes": self.added_nodes, "add_storage": self.added_storage}
        )
        return True

    async def _flush_postgres(self, state: FlowState) -> bool:
        versions, events = self.versions, self.events
        params = {
            "flow_id": state.id,
            "seen_version": self.seen_version,
            **{f"new_{name}": value for name, value in state.written().items()},
            "history_growth": self.history_growth,
            "collab_synced": self.collab_synced,
            **{f"v_{n}": _array(versions, n, _VERSION_BINDS[n]) for n in VERSION_COLUMNS},
            **{f"e_{n}": _array(events, n, _EVENT_BINDS[n]) for n in EVENT_COLUMNS},
            "add_nodes": self.added_nodes,
            "add_storage": self.added_storage,
        }
        rows = await self.uow.execute(_FLUSH_POSTGRES, params)
        return bool(rows.first().saved == 1)


_UPDATE = (
    scoped_update(flows)
    .where(flows.c.id == bindparam("flow_id"), flows.c.version == bindparam("seen_version"))
    .values(
        {
            **{name: bindparam(f"new_{name}") for name in WRITTEN},
            "history_bytes": flows.c.history_bytes + bindparam("history_growth"),
        }
    )
)
_SAVE = prepared(_UPDATE)
_SAVE_COLLAB_SYNCED = prepared(_UPDATE.values(collab_version=bindparam("new_version")))
_INSERT_VERSIONS = prepared(scoped_insert(flow_versions))
_INSERT_EVENTS = prepared(scoped_insert(audit_events))
_ADD_TO_COUNTERS = prepared(
    scoped_update(organizations).values(
        nodes_used=organizations.c.nodes_used + bindparam("add_nodes"),
        storage_used=organizations.c.storage_used + bindparam("add_storage"),
    )
)

_PG = asyncpg_dialect()  # type: ignore[no-untyped-call]


def _pg_type(column: Column[Any]) -> str:
    return str(column.type.compile(dialect=_PG))


def _binds(table: Any, names: Sequence[str]) -> dict[str, Any]:
    """Each column's bind processor on asyncpg (``JSONText`` values as JSON text)."""
    return {name: table.c[name].type.bind_processor(_PG) for name in names}


_VERSION_BINDS = _binds(flow_versions, VERSION_COLUMNS)
_EVENT_BINDS = _binds(audit_events, EVENT_COLUMNS)


def _array(rows: Sequence[Mapping[str, Any]], name: str, process: Any) -> list[Any]:
    """One column of ``rows`` as an array argument, values as the column binds them."""
    if process is None:
        return [row[name] for row in rows]
    return [process(row[name]) for row in rows]


def _flush_postgres() -> PostgresPrepared:
    """The PostgreSQL flush, its parameters named after the column lists: the flow id,
    the version seen, :data:`WRITTEN` (``new_*``), the history growth, whether the live
    document has these versions, one array per version column (``v_*``) and per audit
    column (``e_*``), the counters' deltas."""
    names = [
        "flow_id",
        "seen_version",
        *(f"new_{name}" for name in WRITTEN),
        "history_growth",
        "collab_synced",
        *(f"v_{name}" for name in VERSION_COLUMNS),
        *(f"e_{name}" for name in EVENT_COLUMNS),
        "add_nodes",
        "add_storage",
    ]
    p = {name: f"${i}" for i, name in enumerate(names, start=2)}
    sets = ", ".join(f"{name} = {p['new_' + name]}" for name in WRITTEN)

    def unnest(table: Any, columns: Sequence[str], prefix: str) -> str:
        return ", ".join(f"{p[prefix + c]}::{_pg_type(table.c[c])}[]" for c in columns)

    # Only column names of the tables and numbered placeholders are spliced in.
    sql = f"""
WITH saved AS (
    UPDATE flows SET {sets}, history_bytes = history_bytes + {p["history_growth"]},
        collab_version = CASE WHEN {p["collab_synced"]}::boolean THEN {p["new_version"]}
            ELSE collab_version END
    WHERE organization_id = $1 AND id = {p["flow_id"]} AND version = {p["seen_version"]}
    RETURNING 1
), versions AS (
    INSERT INTO flow_versions (organization_id, flow_id, {", ".join(VERSION_COLUMNS)})
    SELECT $1, {p["flow_id"]}, v.* FROM unnest({unnest(flow_versions, VERSION_COLUMNS, "v_")}) AS v
), events AS (
    INSERT INTO audit_events (organization_id, {", ".join(EVENT_COLUMNS)})
    SELECT $1, e.* FROM unnest({unnest(audit_events, EVENT_COLUMNS, "e_")}) AS e
), counters AS (
    UPDATE organizations SET nodes_used = nodes_used + {p["add_nodes"]},
        storage_used = storage_used + {p["add_storage"]}
    WHERE id = $1
)
SELECT count(*) AS saved FROM saved
"""  # noqa: S608
    return prepared_postgres(sql, names)


_FLUSH_POSTGRES = _flush_postgres()
