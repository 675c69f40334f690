"""The analytics rollups: ``analytics_nodes`` and ``analytics_runs`` (docs/insight.md).

Each row sums one period of one flow (and node): a UTC day (``span`` 1) or sixteen days
aligned on the epoch (``span`` 16), so a long range reads a few dozen periods per node
instead of every execution. The same SQL aggregates raw rows into rollup rows wherever
they come from:

* the writers of runs and node records add the rows they just wrote, in their own
  transaction (:func:`add_run_created`, :func:`nodes_finished`,
  :func:`add_run_finished`, :func:`add_outputs`);
* the migration that creates the tables backfills them from every stored row
  (:func:`backfill_statements`), and :func:`rebuild` does the same for one org;
* a read aggregates the partial days at the edges of its range from the raw rows
  (:func:`raw_nodes`, :func:`raw_runs`, :func:`raw_output_bytes`) and the whole days and
  blocks in between from the rollups (:func:`rolled_nodes`, :func:`rolled_runs`,
  :func:`rolled_days`), in the same shape.

A node execution counts in the period its run was created in (as the analytics select
runs by creation), its failure and time once it has finished; a run counts at creation,
its failure and wall time once it has finished. Times go into a latency histogram
(``domain/latency_histogram.py``) whose buckets are computed here in SQL. Node output
bytes count in the period of the output's timestamp. Deleting raw rows (retention, the
trash) leaves the rollups alone: they are the history of what ran; rows go only with
their flow (purged) or org.

The statements are SQL text, the same on SQLite and PostgreSQL (``INSERT ... SELECT ...
ON CONFLICT DO UPDATE``), every one scoped by ``organization_id = :org``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    String,
    Table,
    TextClause,
    bindparam,
    case,
    literal_column,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from minibase.domain.latency_histogram import BOUNDS, BUCKETS, bucket_of
from minibase.store.array_writes import array_type
from minibase.store.compiled import PostgresPrepared, Prepared
from minibase.store.tables import analytics_nodes, analytics_runs, node_outputs
from minibase.store.unit_of_work import (
    TENANT_PARAM,
    TenantUnitOfWork,
    prepared,
    prepared_postgres,
)

DAY_MS = 86_400_000
BLOCK_DAYS = 16
SPANS = (1, BLOCK_DAYS)

_SPANS_SQL = f"(SELECT 1 AS span UNION ALL SELECT {BLOCK_DAYS}) s"
_HIST = [c for i in range(BUCKETS) for c in (f"h{i}", f"lo{i}", f"hi{i}")]
_NODE_SUMS = ["executions", "failures", "timed", "compute_ms", "keyed", "repeats", "keyed_ms"]
_RUN_SUMS = ["runs", "failures", "timed", "output_bytes"]
NODE_KEYS = ("flow_id", "node_id", "type")


def _bucket(value: str) -> str:
    whens = " ".join(f"WHEN {value} < {bound!r} THEN {i}" for i, bound in enumerate(BOUNDS))
    return f"CASE {whens} ELSE {len(BOUNDS)} END"


def _hist_aggregates() -> str:
    """Per bucket: its count, smallest and largest value, over rows with ``b`` and ``v``."""
    return ", ".join(
        f"SUM(CASE WHEN x.b = {i} THEN 1 ELSE 0 END) AS h{i}, "
        f"MIN(CASE WHEN x.b = {i} THEN x.v END) AS lo{i}, "
        f"MAX(CASE WHEN x.b = {i} THEN x.v END) AS hi{i}"
        for i in range(BUCKETS)
    )


def _hist_rollup() -> str:
    """Per bucket, of rollup rows: sum of counts, least low, greatest high."""
    return ", ".join(f"SUM(h{i}), MIN(lo{i}), MAX(hi{i})" for i in range(BUCKETS))


_NODE_ROLLUP = (
    "SUM(executions), SUM(failures), SUM(timed), SUM(compute_ms), MAX(max_ms), SUM(keyed), "
    f"SUM(repeats), SUM(keyed_ms), {_hist_rollup()}"
)
"""Rollup rows of nodes summed: :data:`NODE_SUMS`, then the histogram."""
_RUN_ROLLUP = (
    "SUM(runs), SUM(failures), SUM(timed), SUM(output_bytes), MAX(max_ms), " + _hist_rollup()
)
"""Rollup rows of runs summed: :data:`RUN_SUMS`, then the histogram."""


def _merge_columns(table: str, columns: Iterable[str]) -> str:
    """``DO UPDATE SET`` of ``columns``: sums added, extremes kept (``max_ms``, ``hi*``
    the greater, ``lo*`` the lesser; NULL: no value yet)."""
    parts = []
    for c in columns:
        if c == "max_ms" or c.startswith("hi"):
            parts.append(
                f"{c} = CASE WHEN excluded.{c} IS NULL OR {table}.{c} >= excluded.{c} "
                f"THEN {table}.{c} ELSE excluded.{c} END"
            )
        elif c.startswith("lo"):
            parts.append(
                f"{c} = CASE WHEN excluded.{c} IS NULL OR {table}.{c} <= excluded.{c} "
                f"THEN {table}.{c} ELSE excluded.{c} END"
            )
        else:
            parts.append(f"{c} = {table}.{c} + excluded.{c}")
    return ", ".join(parts)


def _merge(table: str, sums: Sequence[str]) -> str:
    """``DO UPDATE SET`` adding sums and keeping extremes, of every column."""
    return _merge_columns(table, [*sums, "max_ms", *_HIST])


_TIMED = "n.compute_time IS NOT NULL AND NOT n.cached"
# `<=` first: a bound the index on (org, cache key, timestamp) serves on both databases.
_EARLIER = "p.timestamp <= o.timestamp AND (p.timestamp < o.timestamp OR p.id < o.id)"


def _node_rows(where: str, earlier: str) -> str:
    """One row per node execution: its run's creation, flow, node, type, status, the time
    it computed (``v``, NULL if cached or not run) and its bucket ``b``, whether its
    output has a cache key (``keyed``) already seen by an earlier output of that node
    (``repeat``)."""
    keyed = f"{_TIMED} AND o.cache_key IS NOT NULL"
    # `|| ''`: grouping by the bare column made SQLite read runs through the index on
    # (org, flow) for its order, every run of the org, instead of the time range.
    return (
        "SELECT n.organization_id AS org, r.created_at AS at, r.flow_id || '' AS flow_id, "
        "n.node_id AS node_id, n.type AS type, n.status AS status, "
        f"CASE WHEN {_TIMED} THEN n.compute_time END AS v, "
        f"CASE WHEN {_TIMED} THEN {_bucket('n.compute_time')} END AS b, "
        f"CASE WHEN {keyed} THEN 1 ELSE 0 END AS keyed, "
        f"CASE WHEN {keyed} AND EXISTS (SELECT 1 FROM node_outputs p "
        # Found by its key (index on org, cache key): `|| ''` keeps SQLite from choosing
        # the index on flow and node, which would scan the node's whole history.
        "WHERE p.organization_id = o.organization_id AND p.cache_key = o.cache_key "
        "AND p.flow_id || '' = o.flow_id AND p.node_id || '' = o.node_id AND NOT p.cached "
        f"AND {earlier}) THEN 1 ELSE 0 END AS rep "
        # CROSS JOIN: SQLite then reads runs first (by org and creation time, or by id),
        # each run's nodes by key; PostgreSQL plans it as any inner join.
        "FROM runs r CROSS JOIN run_nodes n "
        "LEFT JOIN node_outputs o ON o.organization_id = n.organization_id "
        "AND o.run_id = n.run_id AND o.node_id = n.node_id "
        "WHERE n.organization_id = r.organization_id AND n.run_id = r.id "
        f"AND {where}"
    )


def _node_aggregates(executions: str) -> str:
    """Node executions (rows of :func:`_node_rows`) summed as the columns of a rollup row."""
    return (
        f"{executions} AS executions, "
        "SUM(CASE WHEN x.status = 'failed' THEN 1 ELSE 0 END) AS failures, "
        "COUNT(x.v) AS timed, COALESCE(SUM(x.v), 0) AS compute_ms, MAX(x.v) AS max_ms, "
        "SUM(x.keyed) AS keyed, SUM(x.rep) AS repeats, "
        "COALESCE(SUM(CASE WHEN x.keyed = 1 THEN x.v END), 0) AS keyed_ms, " + _hist_aggregates()
    )


def _run_rows(where: str) -> str:
    """One row per run: creation, flow, failed or not, wall time ``v`` and its bucket."""
    wall = "r.finished_at - r.started_at"
    done = "r.finished_at IS NOT NULL AND r.started_at IS NOT NULL"
    return (
        "SELECT r.organization_id AS org, r.created_at AS at, r.flow_id AS flow_id, "
        "CASE WHEN r.status IN ('failed', 'timed_out') THEN 1 ELSE 0 END AS failed, "
        f"CASE WHEN {done} THEN {wall} END AS v, "
        f"CASE WHEN {done} THEN {_bucket(wall)} END AS b "
        f"FROM runs r WHERE {where}"
    )


def _run_aggregates(runs: str) -> str:
    """Runs (rows of :func:`_run_rows`) summed as the columns of a rollup row."""
    return (
        f"{runs} AS runs, SUM(x.failed) AS failures, COUNT(x.v) AS timed, "
        f"0 AS output_bytes, MAX(x.v) AS max_ms, {_hist_aggregates()}"
    )


_DAY = f"(x.at / {DAY_MS}) * {DAY_MS}"
_PERIOD = f"(d.day / (s.span * {DAY_MS})) * (s.span * {DAY_MS})"


def _upsert_nodes(where: str, *, executions: str, earlier: str) -> str:
    columns = ["organization_id", "span", "period", *NODE_KEYS]
    columns += ["executions", "failures", "timed", "compute_ms", "max_ms"]
    columns += ["keyed", "repeats", "keyed_ms", *_HIST]
    # Days first, then each span from the days: the executions are aggregated once.
    days = (
        f"SELECT x.org AS org, {_DAY} AS day, x.flow_id AS flow_id, x.node_id AS node_id, "
        f"x.type AS type, {_node_aggregates(executions)} "
        f"FROM ({_node_rows(where, earlier)}) x GROUP BY 1, 2, 3, 4, 5"
    )
    return (
        f"INSERT INTO analytics_nodes ({', '.join(columns)}) "
        f"SELECT d.org, s.span, {_PERIOD}, d.flow_id, d.node_id, d.type, {_NODE_ROLLUP} "
        f"FROM ({days}) d CROSS JOIN {_SPANS_SQL} "
        "WHERE true GROUP BY 1, 2, 3, 4, 5, 6 "
        "ON CONFLICT (organization_id, span, period, flow_id, node_id, type) DO UPDATE SET "
        + _merge("analytics_nodes", _NODE_SUMS)
    )


def _upsert_runs(where: str, *, runs: str) -> str:
    columns = ["organization_id", "span", "period", "flow_id"]
    columns += ["runs", "failures", "timed", "output_bytes", "max_ms", *_HIST]
    days = (
        f"SELECT x.org AS org, {_DAY} AS day, x.flow_id AS flow_id, {_run_aggregates(runs)} "
        f"FROM ({_run_rows(where)}) x GROUP BY 1, 2, 3"
    )
    return (
        f"INSERT INTO analytics_runs ({', '.join(columns)}) "
        f"SELECT d.org, s.span, {_PERIOD}, d.flow_id, {_RUN_ROLLUP} "
        f"FROM ({days}) d CROSS JOIN {_SPANS_SQL} "
        "WHERE true GROUP BY 1, 2, 3, 4 "
        "ON CONFLICT (organization_id, span, period, flow_id) DO UPDATE SET "
        + _merge("analytics_runs", _RUN_SUMS)
    )


def _upsert_outputs(where: str) -> str:
    return (
        "INSERT INTO analytics_runs (organization_id, span, period, flow_id, output_bytes) "
        f"SELECT d.org, s.span, {_PERIOD}, d.flow_id, SUM(d.size_bytes) "
        "FROM (SELECT o.organization_id AS org, o.timestamp AS day, o.flow_id AS flow_id, "
        f"o.size_bytes AS size_bytes FROM node_outputs o WHERE {where}) d "
        f"CROSS JOIN {_SPANS_SQL} WHERE true GROUP BY 1, 2, 3, 4 "
        "ON CONFLICT (organization_id, span, period, flow_id) DO UPDATE SET "
        "output_bytes = analytics_runs.output_bytes + excluded.output_bytes"
    )


# --- writers (in the writer's own transaction) --------------------------------------------
#
# The writers know what they add (a run and its nodes, node results, a run's end, output
# bytes): each adds it as rows of increments to one prepared upsert per table, every span
# at once, in one call: on PostgreSQL one statement over arrays of the rows
# (:func:`_batch_upsert`), on SQLite an executemany. Aggregating in SQL from the rows
# just written, as the backfill does, cost the engine most of its throughput.

_NODE_VALUES = ("executions", "failures", "timed", "compute_ms", "max_ms", "keyed", "keyed_ms")
_RUN_VALUES = ("runs", "failures", "timed", "output_bytes", "max_ms")


def _increments(
    table: Table, values: Sequence[str], insert: Any, repeats: Any = None, bucket: int | None = None
) -> Prepared:
    """``INSERT ... ON CONFLICT DO UPDATE`` of ``table`` from parameters ``v_<column>``:
    keys, ``values``, and one timed value ``v_v`` in ``bucket`` (its count, low and
    high); sums added, extremes kept. One statement per bucket, so a row binds and
    updates three histogram columns, not all 111: that was most of what the rollups cost
    the engine. (One statement spreading a bucket parameter over every column with
    ``CASE`` measured three to four times slower still on PostgreSQL.)"""
    row: dict[str, Any] = {"organization_id": bindparam(TENANT_PARAM)}
    keys = [c.name for c in table.primary_key.columns if c.name != "organization_id"]
    for name in [*keys, *values]:
        row[name] = bindparam(f"v_{name}", type_=table.c[name].type)
    if bucket is not None:
        value = bindparam("v_v", type_=Float())
        row[f"h{bucket}"] = literal_column("1")
        row[f"lo{bucket}"] = value
        row[f"hi{bucket}"] = value
    if repeats is not None:
        row["repeats"] = repeats
    stmt = insert(table).values(row)
    new, old = stmt.excluded, table.c
    update: dict[str, Any] = {}
    for name in [c for c in row if c not in ("organization_id", *keys)]:
        if name == "max_ms" or name.startswith("hi"):
            keep = or_(new[name].is_(None), old[name] >= new[name])
            update[name] = case((keep, old[name]), else_=new[name])
        elif name.startswith("lo"):
            keep = or_(new[name].is_(None), old[name] <= new[name])
            update[name] = case((keep, old[name]), else_=new[name])
        else:
            update[name] = old[name] + new[name]
    return prepared(
        stmt.on_conflict_do_update(index_elements=list(table.primary_key.columns), set_=update)
    )


def _repeats() -> Any:
    """1 if an earlier output of the node has this execution's cache key: earlier by
    timestamp, then id (``v_at``, ``v_output``), as the backfill orders them, so outputs
    of several runs written by one transaction count one of them as new."""
    p = node_outputs.alias("p")
    at, output = bindparam("v_at", type_=BigInteger()), bindparam("v_output", type_=String())
    earlier = (
        select(literal_column("1"))
        .where(
            p.c.organization_id == bindparam(TENANT_PARAM),
            # Key, flow and node are the prefix of ix_node_outputs_org_key_node (0022):
            # one seek, whatever the node's history or how many nodes share the key.
            p.c.cache_key == bindparam("v_key", type_=String()),
            p.c.flow_id == bindparam("v_flow_id", type_=String()),
            p.c.node_id == bindparam("v_node_id", type_=String()),
            not_(p.c.cached),
            p.c.timestamp <= at,
            or_(p.c.timestamp < at, p.c.id < output),
        )
        .exists()
    )
    return case((earlier, 1), else_=0)


def _batch_upsert(
    table: Table, values: Sequence[str], repeats: bool, bucket: int | None
) -> PostgresPrepared:
    """PostgreSQL: the rows of a batch as ONE statement, the upsert of :func:`_increments`
    over ``unnest`` of one array per parameter. An ``executemany`` of one upsert per row
    cost PostgreSQL 75-160 µs a row, 2,000 rows for a 1,000-node run.

    ``ON CONFLICT`` cannot touch a row twice in one statement, and a batch holds rows of
    the same key (the nodes of several runs of one flow, written by one transaction), so
    the rows are grouped by key first, summed and their extremes kept as the upsert
    would have: the same totals as one upsert per row. The repeats check stays per row
    (a seek of ``ix_node_outputs_org_key_node`` each), inside the sum."""
    keys = [c.name for c in table.primary_key.columns if c.name != "organization_id"]
    inputs = [(name, table.c[name]) for name in [*keys, *values]]
    if bucket is not None:
        inputs.append(("v", analytics_nodes.c.compute_ms))
    if repeats:
        o = node_outputs.c
        inputs += [("key", o.cache_key), ("output", o.id), ("at", o.timestamp)]
    columns = ["organization_id", *keys]
    aggregates = ["$1::text", *(f"r.{k}" for k in keys)]
    for name in values:
        columns.append(name)
        aggregates.append(f"MAX(r.{name})" if name == "max_ms" else f"SUM(r.{name})")
    if bucket is not None:
        columns += [f"h{bucket}", f"lo{bucket}", f"hi{bucket}"]
        aggregates += ["COUNT(*)", "MIN(r.v)", "MAX(r.v)"]
    if repeats:
        columns.append("repeats")
        # Key, flow and node are the prefix of ix_node_outputs_org_key_node: one seek per
        # row, whatever the node's history or how many nodes share the key; earlier by
        # timestamp, then id, as the backfill orders outputs. Compared in the collation
        # of that index on PostgreSQL ("C", 0023), which no other index has: so the
        # planner cannot take another even before the table has statistics.
        earlier = (
            "SELECT 1 FROM node_outputs p WHERE p.organization_id = $1::text "
            'AND p.cache_key COLLATE "C" = r.key AND p.flow_id COLLATE "C" = r.flow_id '
            'AND p.node_id COLLATE "C" = r.node_id AND NOT p.cached '
            "AND p.timestamp <= r.at AND (p.timestamp < r.at OR p.id < r.output)"
        )
        aggregates.append(f"SUM(CASE WHEN EXISTS ({earlier}) THEN 1 ELSE 0 END)")
    arrays = ", ".join(f"${i}::{array_type(c)}[]" for i, (_, c) in enumerate(inputs, start=2))
    names = ", ".join(name for name, _ in inputs)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {', '.join(aggregates)} "
        f"FROM unnest({arrays}) AS r({names}) GROUP BY {', '.join(f'r.{k}' for k in keys)} "
        f"ON CONFLICT (organization_id, {', '.join(keys)}) DO UPDATE SET "
        + _merge_columns(table.name, columns[1 + len(keys) :])
    )
    return prepared_postgres(sql, [f"v_{name}" for name, _ in inputs], arrays=True)


_INSERTS = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
_SHAPES: dict[str, tuple[Table, tuple[str, ...], bool]] = {
    "nodes": (analytics_nodes, _NODE_VALUES, True),
    "runs": (analytics_runs, _RUN_VALUES, False),
    # Counts alone: a run and its nodes created, output bytes.
    "count nodes": (analytics_nodes, ("executions",), False),
    "count runs": (analytics_runs, ("runs", "output_bytes"), False),
}


@functools.cache
def _statement(shape: str, dialect: str, bucket: int | None) -> Prepared | PostgresPrepared:
    """The upsert of ``shape`` for ``dialect`` and ``bucket``, built on first use (76 of
    them per table would cost the start-up a tenth of a second): on PostgreSQL one
    statement for all the rows (:func:`_batch_upsert`), on SQLite one per row (an
    ``executemany`` there is a loop in the process, with no round trip)."""
    table, values, repeats = _SHAPES[shape]
    if dialect == "postgresql":
        return _batch_upsert(table, values, repeats, bucket)
    return _increments(table, values, _INSERTS[dialect], _repeats() if repeats else None, bucket)


def _periods(at: int) -> list[tuple[int, int]]:
    return [(span, at // (span * DAY_MS) * (span * DAY_MS)) for span in SPANS]


def _timed(params: dict[str, Any], value: float | None) -> dict[str, Any]:
    """Add one timed value (or none) to ``params``: ``timed``, ``max_ms``, ``v_v`` and the
    bucket ``_b`` (which statement adds it)."""
    if value is None:
        params.update(v_timed=0, v_max_ms=None, _b=None)
    else:
        params.update(v_timed=1, v_max_ms=value, v_v=value, _b=bucket_of(value))
    return params


@dataclass(frozen=True, slots=True)
class NodeDone:
    """A node execution recorded as finished."""

    node_id: str
    type: str
    failed: bool
    compute_ms: float | None
    """Its time if it computed (not cached, started), else ``None``."""
    output_id: str | None
    output_at: int | None
    """Its output's timestamp."""
    cache_key: str | None
    """Its output's cache key, if its output was stored with one."""


Writes = list[tuple[Prepared | PostgresPrepared, list[dict[str, Any]]]]
"""Statements and their parameter rows: run each once with all its rows (one statement
on PostgreSQL, an ``executemany`` on SQLite), in any order; rows of several writers may
be joined into one call first."""


def _grouped(uow: TenantUnitOfWork, shape: str, rows: list[dict[str, Any]]) -> Writes:
    """``rows`` by the statement of their bucket (``_b``)."""
    dialect = "postgresql" if uow.is_postgres else "sqlite"
    by_bucket: dict[int | None, list[dict[str, Any]]] = {}
    for row in rows:
        by_bucket.setdefault(row.pop("_b", None), []).append(row)
    return [(_statement(shape, dialect, b), group) for b, group in by_bucket.items()]


async def _add(uow: TenantUnitOfWork, shape: str, rows: list[dict[str, Any]]) -> None:
    for statement, group in _grouped(uow, shape, rows):
        await uow.execute(statement, group)


async def add_run_created(
    uow: TenantUnitOfWork, flow_id: str, created_at: int, nodes: Sequence[tuple[str, str]]
) -> None:
    """Count a run just created, and its node executions ``(node id, type)``."""
    periods = _periods(created_at)
    runs_rows = [
        {"v_span": span, "v_period": period, "v_flow_id": flow_id, "v_runs": 1}
        | {"v_output_bytes": 0}
        for span, period in periods
    ]
    node_rows = [
        {"v_span": span, "v_period": period, "v_flow_id": flow_id, "v_node_id": node_id}
        | {"v_type": node_type, "v_executions": 1}
        for node_id, node_type in nodes
        for span, period in periods
    ]
    await _add(uow, "count runs", runs_rows)
    await _add(uow, "count nodes", node_rows)


def nodes_finished(
    uow: TenantUnitOfWork, flow_id: str, created_at: int, nodes: Sequence[NodeDone]
) -> Writes:
    """What adds the failures, times and cache keys of nodes just recorded as finished
    (each node of a run is recorded finished once: the run worker's lease guarantees it),
    in the period of their run's creation; to run once their outputs are written. The
    run worker defers these with its other rows, so a transaction writing many runs
    sends each statement once."""
    periods = _periods(created_at)
    rows = []
    for node in nodes:
        if not node.failed and node.compute_ms is None:
            continue  # a cache hit, skipped or canceled: nothing to add
        keyed = node.compute_ms is not None and node.cache_key is not None
        for span, period in periods:
            rows.append(
                _timed(
                    {
                        "v_span": span,
                        "v_period": period,
                        "v_flow_id": flow_id,
                        "v_node_id": node.node_id,
                        "v_type": node.type,
                        "v_executions": 0,
                        "v_failures": int(node.failed),
                        "v_compute_ms": node.compute_ms or 0.0,
                        "v_keyed": int(keyed),
                        "v_keyed_ms": node.compute_ms if keyed else 0.0,
                        "v_key": node.cache_key if keyed else None,
                        "v_output": node.output_id or "",
                        "v_at": node.output_at or 0,
                    },
                    node.compute_ms,
                )
            )
    return _grouped(uow, "nodes", rows)


def run_finished(
    uow: TenantUnitOfWork,
    flow_id: str,
    created_at: int,
    status: str,
    started_at: int | None,
    finished_at: int | None,
) -> Writes:
    """What adds a run's failure and wall time, once it has reached its final ``status``."""
    wall = None if started_at is None or finished_at is None else float(finished_at - started_at)
    rows = [
        _timed(
            {
                "v_span": span,
                "v_period": period,
                "v_flow_id": flow_id,
                "v_runs": 0,
                "v_failures": int(status in ("failed", "timed_out")),
                "v_output_bytes": 0,
            },
            wall,
        )
        for span, period in _periods(created_at)
    ]
    return _grouped(uow, "runs", rows)


async def add_run_finished(
    uow: TenantUnitOfWork,
    flow_id: str,
    created_at: int,
    status: str,
    started_at: int | None,
    finished_at: int | None,
) -> None:
    """Add a run's failure and wall time now (:func:`run_finished`)."""
    for statement, rows in run_finished(uow, flow_id, created_at, status, started_at, finished_at):
        await uow.execute(statement, rows)


def outputs_written(uow: TenantUnitOfWork, outputs: Sequence[tuple[str, int, int]]) -> Writes:
    """What adds the bytes of node outputs just written, ``(flow id, timestamp, bytes)``."""
    totals: dict[tuple[str, int, int], int] = {}
    for flow_id, timestamp, size in outputs:
        for span, period in _periods(timestamp):
            key = (flow_id, span, period)
            totals[key] = totals.get(key, 0) + size
    rows = [
        {"v_span": span, "v_period": period, "v_flow_id": flow_id, "v_runs": 0}
        | {"v_output_bytes": size}
        for (flow_id, span, period), size in totals.items()
    ]
    return _grouped(uow, "count runs", rows)


async def add_outputs(uow: TenantUnitOfWork, outputs: Sequence[tuple[str, int, int]]) -> None:
    """Add the bytes of node outputs just written now (:func:`outputs_written`)."""
    for statement, rows in outputs_written(uow, outputs):
        await uow.execute(statement, rows)


# --- backfill -----------------------------------------------------------------------------


def backfill_statements(org_scoped: bool) -> list[TextClause]:
    """The statements that fill empty rollups from every stored row (of ``:org`` when
    ``org_scoped``): the migration that creates the tables runs them, and :func:`rebuild`."""
    node_where = "r.organization_id = :org" if org_scoped else "true"
    run_where = "r.organization_id = :org" if org_scoped else "true"
    output_where = "o.organization_id = :org" if org_scoped else "true"
    return [
        text(_upsert_runs(run_where, runs="COUNT(*)")),
        text(_upsert_nodes(node_where, executions="COUNT(*)", earlier=_EARLIER)),
        text(_upsert_outputs(output_where)),
    ]


async def rebuild(uow: TenantUnitOfWork) -> None:
    """Recompute this org's rollups from its stored rows (what they hold then is lost:
    history of rows deleted since is not recovered)."""
    await uow.execute(
        text("DELETE FROM analytics_nodes WHERE organization_id = :org"), {"org": uow.org_id}
    )
    await uow.execute(
        text("DELETE FROM analytics_runs WHERE organization_id = :org"), {"org": uow.org_id}
    )
    for statement in backfill_statements(org_scoped=True):
        await uow.execute(statement, {"org": uow.org_id})


# --- reads --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Periods:
    """How a range ``[start, end)`` is read: raw rows for the partial days at its edges,
    rollup rows for whole days and whole blocks in between."""

    raw: tuple[tuple[int, int], ...]
    """Intervals (ms) read from the raw rows."""
    rolled: tuple[tuple[int, int, int], ...]
    """``(span, first period, end)``: rollup rows of that span with ``first <= period < end``."""
    days: tuple[int, int] | None
    """The whole days ``[first, end)`` (for per-day figures, read at span 1)."""


def split(start: int, end: int) -> Periods:
    """Decompose ``[start, end)`` into raw edges, whole days and whole blocks."""
    first_day = -(-start // DAY_MS) * DAY_MS
    last_day = end // DAY_MS * DAY_MS
    if first_day >= last_day:
        return Periods(((start, end),), (), None)
    raw = tuple((a, b) for a, b in ((start, first_day), (last_day, end)) if a < b)
    block = BLOCK_DAYS * DAY_MS
    first_block = -(-first_day // block) * block
    last_block = last_day // block * block
    if first_block >= last_block:
        rolled: tuple[tuple[int, int, int], ...] = ((1, first_day, last_day),)
    else:
        rolled = tuple(
            r
            for r in (
                (1, first_day, first_block),
                (BLOCK_DAYS, first_block, last_block),
                (1, last_block, last_day),
            )
            if r[1] < r[2]
        )
    return Periods(raw, rolled, (first_day, last_day))


def _pivot(rows: Sequence[Row], *, keys: int) -> list[Row]:
    """Rows per (keys, bucket) as rows per keys in the rollup shape.

    A raw read groups by bucket too (``keys``, ``b``, the sums, then ``MIN(v)``): a few
    aggregates per row instead of three per bucket, which is most of a raw read's cost.
    The sums of a key's rows add up; each bucket's count is its ``timed`` sum (the third
    sum), its extremes ``MIN(v)`` and ``MAX(v)`` (``max_ms``, the fifth)."""
    merged: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        key = tuple(row[:keys])
        bucket, sums, low = row[keys], list(row[keys + 1 : -1]), row[-1]
        out = merged.get(key)
        if out is None:
            out = merged[key] = [*key, *([0] * len(sums)), *([0, None, None] * BUCKETS)]
            out[keys + 4] = None  # max_ms
        for i, value in enumerate(sums):
            at = keys + i
            if i == 4:
                out[at] = (
                    value if out[at] is None or (value is not None and value > out[at]) else out[at]
                )
            else:
                out[at] += value or 0
        if bucket is not None:
            at = keys + len(sums) + 3 * int(bucket)
            out[at] += int(sums[2] or 0)
            high, lo, hi = sums[4], out[at + 1], out[at + 2]
            out[at + 1] = low if lo is None or (low is not None and low < lo) else lo
            out[at + 2] = high if hi is None or (high is not None and high > hi) else hi
    return [tuple(r) for r in merged.values()]


async def _per_interval(
    uow: TenantUnitOfWork,
    sql: str,
    intervals: Iterable[tuple[int, int]],
    flow_id: str | None,
) -> list[Row]:
    """Run ``sql`` (bound ``:a``, ``:b``, ``:org``, ``:flow``) once per interval: one range
    each, so the index on the time column serves it (an ``OR`` of ranges is not)."""
    rows: list[Row] = []
    for a, b in intervals:
        params = {"org": uow.org_id, "a": a, "b": b}
        if flow_id is not None:
            params["flow"] = flow_id
        rows += (await uow.execute(text(sql), params)).all()
    return rows


_ROLLED = "organization_id = :org AND span = :span AND period >= :a AND period < :b"


async def _per_span(
    uow: TenantUnitOfWork, sql: str, rolled: Iterable[tuple[int, int, int]], flow_id: str | None
) -> list[Row]:
    """Run ``sql`` (bound ``:span``, ``:a``, ``:b``, ``:org``, ``:flow``) once per span and
    range of periods: each reads its stretch of the primary key (an ``OR`` of them made
    SQLite read every rollup row of the org)."""
    rows: list[Row] = []
    for span, a, b in rolled:
        params = {"org": uow.org_id, "span": span, "a": a, "b": b}
        if flow_id is not None:
            params["flow"] = flow_id
        rows += (await uow.execute(text(sql), params)).all()
    return rows


def _flow(column: str, flow_id: str | None, params: dict[str, Any]) -> str:
    if flow_id is None:
        return ""
    params["flow"] = flow_id
    return f" AND {column} = :flow"


Row = Sequence[Any]
"""A result row: its keys, then the sums, then the histogram columns (``h0, lo0, hi0``...)."""

NODE_SUMS = (
    "executions",
    "failures",
    "timed",
    "compute_ms",
    "max_ms",
    "keyed",
    "repeats",
    "keyed_ms",
)
RUN_SUMS = ("runs", "failures", "timed", "output_bytes", "max_ms")


async def raw_nodes(
    uow: TenantUnitOfWork, intervals: Sequence[tuple[int, int]], flow_id: str | None
) -> list[Row]:
    """Per (flow, node, type), executions of runs created in ``intervals``, from raw rows:
    keys, :data:`NODE_SUMS`, histogram."""
    where = "r.organization_id = :org AND r.created_at >= :a AND r.created_at < :b"
    if flow_id is not None:
        where += " AND r.flow_id = :flow"
    sql = (
        "SELECT x.flow_id, x.node_id, x.type, x.b, COUNT(*), "
        "SUM(CASE WHEN x.status = 'failed' THEN 1 ELSE 0 END), COUNT(x.v), "
        "COALESCE(SUM(x.v), 0), MAX(x.v), SUM(x.keyed), SUM(x.rep), "
        "COALESCE(SUM(CASE WHEN x.keyed = 1 THEN x.v END), 0), MIN(x.v) "
        f"FROM ({_node_rows(where, _EARLIER)}) x GROUP BY 1, 2, 3, 4"
    )
    return _pivot(await _per_interval(uow, sql, intervals, flow_id), keys=3)


async def rolled_nodes(
    uow: TenantUnitOfWork, rolled: Sequence[tuple[int, int, int]], flow_id: str | None
) -> list[Row]:
    """The same as :func:`raw_nodes`, summed from rollup rows of the periods ``rolled``."""
    sql = (
        f"SELECT a.flow_id, a.node_id, a.type, {_NODE_ROLLUP} "
        f"FROM analytics_nodes a WHERE {_ROLLED}{' AND flow_id = :flow' if flow_id else ''} "
        "GROUP BY 1, 2, 3"
    )
    return await _per_span(uow, sql, rolled, flow_id)


async def raw_runs(
    uow: TenantUnitOfWork, intervals: Sequence[tuple[int, int]], flow_id: str | None
) -> list[Row]:
    """Per (flow, day), runs created in ``intervals``, from raw rows: flow, day,
    :data:`RUN_SUMS` (no output bytes), histogram of wall times."""
    where = "r.organization_id = :org AND r.created_at >= :a AND r.created_at < :b"
    if flow_id is not None:
        where += " AND r.flow_id = :flow"
    sql = (
        f"SELECT x.flow_id, (x.at / {DAY_MS}) * {DAY_MS}, x.b, COUNT(*), SUM(x.failed), "
        "COUNT(x.v), 0, MAX(x.v), MIN(x.v) "
        f"FROM ({_run_rows(where)}) x GROUP BY 1, 2, 3"
    )
    return _pivot(await _per_interval(uow, sql, intervals, flow_id), keys=2)


async def rolled_runs(
    uow: TenantUnitOfWork, rolled: Sequence[tuple[int, int, int]], flow_id: str | None
) -> list[Row]:
    """Per flow, from rollup rows of the periods ``rolled``: flow, :data:`RUN_SUMS`,
    histogram of wall times."""
    sql = (
        f"SELECT flow_id, {_RUN_ROLLUP} FROM analytics_runs "
        f"WHERE {_ROLLED}{' AND flow_id = :flow' if flow_id else ''} GROUP BY flow_id"
    )
    return await _per_span(uow, sql, rolled, flow_id)


async def rolled_days(
    uow: TenantUnitOfWork, days: tuple[int, int], flow_id: str | None
) -> list[Row]:
    """Per whole day ``[first, end)``: day, runs, failed runs, output bytes."""
    params: dict[str, Any] = {"org": uow.org_id, "a": days[0], "b": days[1]}
    sql = (
        "SELECT period, SUM(runs), SUM(failures), SUM(output_bytes) FROM analytics_runs "
        "WHERE organization_id = :org AND span = 1 AND period >= :a AND period < :b"
        + _flow("flow_id", flow_id, params)
        + " GROUP BY period"
    )
    return list((await uow.execute(text(sql), params)).all())


async def raw_output_bytes(
    uow: TenantUnitOfWork, intervals: Sequence[tuple[int, int]], flow_id: str | None
) -> list[Row]:
    """Per day, bytes of node outputs stored with a timestamp in ``intervals``."""
    where = "o.organization_id = :org AND o.timestamp >= :a AND o.timestamp < :b"
    if flow_id is not None:
        where += " AND o.flow_id = :flow"
    sql = (
        f"SELECT (o.timestamp / {DAY_MS}) * {DAY_MS}, SUM(o.size_bytes) FROM node_outputs o "
        f"WHERE {where} GROUP BY 1"
    )
    return await _per_interval(uow, sql, intervals, flow_id)
