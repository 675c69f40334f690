"""Prepared statements compiled once per dialect and run on the driver's own connection.

SQLAlchemy's execution path costs about 0.1 ms per statement on SQLite and 0.14 ms on
asyncpg (result and context objects, greenlet hops), more than SQLite takes to run one and
twice an asyncpg round trip. The hot path's statements are fixed at import
(:func:`minibase.store.unit_of_work.prepared`), so each is compiled once per dialect and
set of parameter names here, with SQLAlchemy's own bind and result processors, and run
directly on the pysqlite cursor or the asyncpg connection, inside the transaction that
SQLAlchemy opened and will commit.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, Insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select

Processor = Callable[[Any], Any] | None


class Rows:
    """What a compiled statement returned: its rows (attribute access) and row count."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def all(self) -> list[Any]:
        return list(self._rows)

    def scalar_one(self) -> Any:
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0][0]


@dataclass(frozen=True, slots=True)
class Compiled:
    """One statement as one dialect's SQL, with how to pass its parameters and read rows."""

    sql: str
    names: tuple[str, ...]
    """The bound parameter of each position."""
    fixed: Mapping[str, Any]
    """Values the statement carries itself (``LIMIT 1``)."""
    bind: tuple[Processor, ...]
    row_type: type | None
    """``None`` when the statement returns no rows."""
    result: tuple[Processor, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``params`` (bound names to values)."""
        fixed = self.fixed
        out = []
        for name, process in zip(self.names, self.bind, strict=True):
            value = params[name] if name in params else fixed[name]
            out.append(process(value) if process is not None else value)
        return out

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[Any]:
        """Driver rows as named tuples, values through the columns' result processors."""
        if self.row_type is None:
            return []
        make, result = self.row_type, self.result
        if not any(result):
            return [make(*row) for row in raw]
        return [
            make(*(p(v) if p is not None else v for p, v in zip(result, row, strict=True)))
            for row in raw
        ]


def _row_type(names: list[str]) -> type:
    """A named tuple class: rows read by attribute (``row.version``), built in C."""
    make: Callable[..., type] = namedtuple
    return make("Row", names)


def _columns(statement: Executable) -> list[tuple[str, Any]] | None:
    if isinstance(statement, Select):
        return [(str(c.key), c.type) for c in statement.selected_columns]
    if isinstance(statement, UpdateBase) and statement.returning_column_descriptions:
        return [(d["name"], d["type"]) for d in statement.returning_column_descriptions]
    return None


def compile_for(
    statement: Executable, dialect: Dialect, keys: Sequence[str] | None = None
) -> Compiled:
    """Compile ``statement`` for ``dialect``; ``keys``: the parameter names of an INSERT
    whose columns come with the parameters."""
    compiled = statement.compile(  # type: ignore[attr-defined]
        dialect=dialect, column_keys=list(keys) if keys else None
    )
    names = tuple(compiled.positiontup or ())
    binds = compiled.binds
    fixed = {n: binds[n].effective_value for n in names if not binds[n].required}
    bind = tuple(binds[n].type.bind_processor(dialect) for n in names)
    columns = _columns(statement)
    row_type: type | None = None
    result: tuple[Processor, ...] = ()
    if columns is not None:
        row_type = _row_type([name for name, _ in columns])
        result = tuple(t.result_processor(dialect, None) for _, t in columns)
    return Compiled(str(compiled), names, fixed, bind, row_type, result)


class Prepared:
    """A tenant statement built once (at import) and compiled once per dialect and, for an
    INSERT, per set of columns given; made by
    :func:`minibase.store.unit_of_work.prepared`, run by ``UnitOfWork.execute``."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, frozenset[str] | None], Compiled] = {}

    def compiled(self, dialect: Dialect, params: Mapping[str, Any]) -> Compiled:
        """This statement as ``dialect``'s SQL for parameters named like ``params``."""
        statement, keys = self.statement, None
        if isinstance(statement, Insert):
            columns = statement.table.c
            keys = frozenset(k for k in params if k in columns)
        entry = self._compiled.get((dialect.name, keys))
        if entry is None:
            entry = compile_for(statement, dialect, sorted(keys) if keys else None)
            self._compiled[(dialect.name, keys)] = entry
        return entry

    def __repr__(self) -> str:
        return f"Prepared({self.statement})"


class PostgresPrepared:
    """PostgreSQL text for what SQLAlchemy cannot express (several data-modifying CTEs
    in one round trip): ``$1`` is the org, filled in by the unit of work like the org of
    a :class:`Prepared`, and ``$2``... are ``names`` in order, taken from the parameters
    by name. Made by :func:`minibase.store.unit_of_work.prepared_postgres`.

    With ``arrays``, each of ``$2``... is an array with one element per parameter set,
    so a list of sets runs as one statement (``unnest($2::int[], ...)``) rather than once
    per set: an ``executemany`` costs PostgreSQL a full execution per row. ``bind``, one
    per name (or none), turns a value into what the array holds (the columns' own bind
    processors, such as JSON to text: asyncpg sees only the array)."""

    __slots__ = ("_row_type", "arrays", "bind", "names", "sql")

    def __init__(
        self,
        sql: str,
        names: Sequence[str],
        *,
        arrays: bool = False,
        bind: Sequence[Processor] | None = None,
    ) -> None:
        self.sql = sql
        self.names = tuple(names)
        self.arrays = arrays
        self.bind = tuple(bind) if bind is not None else (None,) * len(self.names)
        if len(self.bind) != len(self.names):
            raise ValueError("one bind processor (or None) per name")
        self._row_type: type | None = None

    def rows(self, records: Sequence[Any]) -> list[Any]:
        """asyncpg records as named tuples (the same rows as a :class:`Prepared`'s)."""
        if not records:
            return []
        make = self._row_type
        if make is None:
            make = self._row_type = _row_type(list(records[0].keys()))
        return [make(*record) for record in records]

    def arguments(self, org_id: str, params: Mapping[str, Any]) -> list[Any]:
        return [org_id, *(params[name] for name in self.names)]

    def array_arguments(self, org_id: str, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """The arguments of an ``arrays`` statement: per name, its value in each row."""
        out: list[Any] = [org_id]
        for name, process in zip(self.names, self.bind, strict=True):
            if process is None:
                out.append([row[name] for row in rows])
            else:
                out.append([process(row[name]) for row in rows])
        return out
