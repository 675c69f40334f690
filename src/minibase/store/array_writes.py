"""Multi-row writes on PostgreSQL: many rows as ONE statement over arrays of them.

An ``executemany`` costs PostgreSQL a full execution per row (bind, execute, a
protocol message each), 40 to 70 µs a row for the engine's node records. These build
the statements :func:`~minibase.store.unit_of_work.prepared_postgres` runs with
``arrays=True`` instead: one array per parameter, ``unnest`` of them as a table
(``INSERT ... SELECT``, ``UPDATE ... FROM``, ``DELETE ... = ANY``). SQLite keeps its
``executemany`` (a loop in the process there, no round trip).

The rows of one statement must not update the same row twice: ``UPDATE ... FROM``
applies only one of them, where an ``executemany`` applied both in order. Callers
whose rows might repeat a key name it (:class:`BatchWrite`): such rows go one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Integer, LargeBinary, String, Table
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from minibase.store.compiled import PostgresPrepared, Prepared, Processor
from minibase.store.unit_of_work import TenantUnitOfWork, prepared_postgres

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]
_QUOTE = _DIALECT.identifier_preparer.quote

_ARRAY_TYPES: dict[type, str] = {
    Integer: "int4",
    BigInteger: "int8",
    Float: "float8",
    Boolean: "bool",
    LargeBinary: "bytea",
}


def array_type(column: Any) -> str:
    """The PostgreSQL array element type a parameter of ``column`` is bound as (strings,
    JSON text included, as ``text``: a cast to ``varchar(n)`` would cut a long value
    instead of refusing it)."""
    kind = column.type
    impl = getattr(kind, "impl_instance", None)  # a TypeDecorator: what it stores
    if impl is not None:
        kind = impl
    if isinstance(kind, String):
        return "text"
    return _ARRAY_TYPES[type(kind)]


def _bind(columns: Iterable[Any]) -> list[Processor]:
    """Each column's bind processor on asyncpg (JSON to text, ...), or ``None``."""
    return [c.type.bind_processor(_DIALECT) for c in columns]


def _unnest(params: Sequence[tuple[str, Any]]) -> str:
    """``unnest($2::t[], ...) AS r(name, ...)``: parameter ``$2``... per ``(name, column)``."""
    arrays = ", ".join(f"${i}::{array_type(c)}[]" for i, (_, c) in enumerate(params, start=2))
    return f"unnest({arrays}) AS r({', '.join(_QUOTE(name) for name, _ in params)})"


def insert_rows(table: Table, columns: Sequence[str]) -> PostgresPrepared:
    """``INSERT INTO table (org, columns)``, one row per parameter set, its values named
    like the ``columns``; the org column (the first of the primary key) is ``$1``."""
    org = table.primary_key.columns.values()[0].name
    params = [(name, table.c[name]) for name in columns]
    names = ", ".join(_QUOTE(n) for n in (org, *columns))
    values = ", ".join(f"r.{_QUOTE(name)}" for name in columns)
    # Identifiers from the table definitions, every value a bound array.
    sql = f"INSERT INTO {table.name} ({names}) SELECT $1::text, {values} FROM {_unnest(params)}"  # noqa: S608
    return prepared_postgres(sql, columns, arrays=True, bind=_bind(c for _, c in params))


def update_rows(
    table: Table,
    match: Mapping[str, str],
    values: Mapping[str, str],
    *,
    fixed: Mapping[str, str] | None = None,
    merge: Mapping[str, str] | None = None,
    where: str = "",
) -> PostgresPrepared:
    """``UPDATE table AS t ... FROM unnest(...) AS r``: the row of this org whose columns
    equal ``match`` (parameter name to column) takes ``values`` (column to parameter
    name). ``fixed``: columns set to SQL constants; ``merge``: how a column combines its
    old value with the new one, as SQL of ``{old}`` and ``{new}``
    (``"{old} + {new}"``); ``where``: a further condition on ``t``."""
    org = table.primary_key.columns.values()[0].name
    params = [(param, table.c[column]) for param, column in match.items()]
    params += [(param, table.c[column]) for column, param in values.items()]
    sets = [f"{_QUOTE(column)} = {value}" for column, value in (fixed or {}).items()]
    for column, param in values.items():
        new = f"r.{_QUOTE(param)}"
        template = (merge or {}).get(column)
        if template is not None:
            new = template.format(old=f"t.{_QUOTE(column)}", new=new)
        sets.append(f"{_QUOTE(column)} = {new}")
    # Each row found by its key, then updated by its row address: joined on the key
    # alone, the planner, before the table has statistics, estimates the org's rows at
    # a handful and hashes ALL of them against the arrays (a generic plan kept for the
    # connection's life: 0.5 s a statement once a run has a few thousand rows). Found in
    # a LATERAL subquery that cannot be flattened (OFFSET 0), every key column bound,
    # the primary key index is the only sensible plan. The row address is that of the
    # version this statement sees; no other transaction can update it meanwhile, since
    # every write transaction of an org holds the org's row lock first.
    found = " AND ".join(
        [f"x.{_QUOTE(org)} = $1::text"]
        + [f"x.{_QUOTE(column)} = r.{_QUOTE(p)}" for p, column in match.items()]
    )
    conditions = [f"t.{_QUOTE(org)} = $1::text", "t.ctid = k.row_tid"]
    if where:
        conditions.append(where)
    sql = (  # identifiers and SQL of the callers' constants, every value a bound array
        f"UPDATE {table.name} AS t SET {', '.join(sets)} FROM {_unnest(params)} "  # noqa: S608
        f"CROSS JOIN LATERAL (SELECT x.ctid AS row_tid FROM {table.name} AS x "
        f"WHERE {found} OFFSET 0) AS k WHERE {' AND '.join(conditions)}"
    )
    return prepared_postgres(
        sql, [name for name, _ in params], arrays=True, bind=_bind(c for _, c in params)
    )


def distinct_keys(rows: Iterable[Mapping[str, Any]], keys: Sequence[str]) -> bool:
    """Whether no two of ``rows`` share their values of ``keys`` (see the module)."""
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key in seen:
            return False
        seen.add(key)
    return True


@dataclass(frozen=True, slots=True)
class BatchWrite:
    """One write of many rows: ``arrays`` on PostgreSQL (one statement), ``each`` (once
    per row, in one call) on SQLite, or on PostgreSQL when two rows share their values
    of ``keys`` (an update would apply only one of them)."""

    each: Prepared
    arrays: PostgresPrepared
    keys: tuple[str, ...] = ()

    async def write(self, uow: TenantUnitOfWork, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write ``rows`` in ``uow``'s transaction."""
        if not rows:
            return
        if uow.is_postgres and (not self.keys or distinct_keys(rows, self.keys)):
            await uow.execute(self.arrays, rows)
        else:
            await uow.execute(self.each, rows)
