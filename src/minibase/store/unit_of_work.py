"""Units of work: the only way services read and write rows.

A :class:`TenantUnitOfWork` is opened for one ``(organization, principal)``. Its statement
builders scope every select, update and delete of a tenant table to that organization and
stamp ``organization_id`` on every insert (the first wall). On PostgreSQL the same
transaction also sets ``minibase.org_id`` with ``set_config(..., true)``, so row-level
security hides every other org's rows even from a query built by hand (the second wall).

Events recorded with :meth:`UnitOfWork.emit` are published only after the transaction
commits, never for a rolled-back change.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import (
    Delete,
    Executable,
    Insert,
    Result,
    Select,
    Table,
    Update,
    bindparam,
    text,
)
from sqlalchemy import delete as sa_delete
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import iterate

from minibase.domain.principal import Principal
from minibase.realtime.events import Event
from minibase.store.compiled import Rows
from minibase.store.database import Database, Executor, OrgEntry, PostgresConnection
from minibase.store.hot_cache import HotCache

Publisher = Callable[[Sequence[Event]], Awaitable[None]]


class TenantScopeError(RuntimeError):
    """A global unit of work was asked to touch a tenant table (a programming error)."""


TENANT_PARAM = "tenant_org_id"
"""The bound parameter that carries the org of a prepared statement (see :func:`prepared`)."""

_PREPARED: set[int] = set()


def _scope_column(table: Table) -> Any:
    if table.info.get("org_root"):
        return table.c.id
    if not table.info.get("tenant"):
        raise TenantScopeError(f"{table.name} is not a tenant table")
    return table.c.organization_id


def scoped_select(table: Table, *columns: Any) -> Select[Any]:
    """``SELECT`` from a tenant table (all columns, or ``columns``), for :func:`prepared`."""
    stmt = sa_select(*columns) if columns else sa_select(table)
    return stmt.select_from(table).where(_scope_column(table) == bindparam(TENANT_PARAM))


def scoped_update(table: Table) -> Update:
    """``UPDATE`` of a tenant table, for :func:`prepared`."""
    return sa_update(table).where(_scope_column(table) == bindparam(TENANT_PARAM))


def scoped_insert(table: Table) -> Insert:
    """``INSERT`` stamping the org on the row (other columns as parameters), for
    :func:`prepared`."""
    return sa_insert(table).values({_scope_column(table).key: bindparam(TENANT_PARAM)})


S = TypeVar("S", bound=Executable)


def prepared(statement: S) -> S:
    """Seal a statement built once, at import, for :meth:`TenantUnitOfWork.run`.

    Building a SQLAlchemy statement and its cache key costs 0.2-0.3 ms, ten times running
    it, and a flow save runs six: the hot paths build theirs once (``scoped_*`` plus
    refinements), with every value a bound parameter. The org scope is the parameter
    :data:`TENANT_PARAM`, which only :meth:`TenantUnitOfWork.run` fills in, with its own
    org: the same first wall as the per-call builders. A statement without it is refused.
    """
    if not any(
        isinstance(e, BindParameter) and e.key == TENANT_PARAM
        for e in iterate(statement)  # type: ignore[arg-type]
    ):
        raise TenantScopeError("a prepared statement must come from a scoped_* builder")
    _PREPARED.add(id(statement))
    return statement


class UnitOfWork:
    """One transaction, on behalf of one principal."""

    def __init__(
        self,
        conn: Executor,
        principal: Principal,
        *,
        dialect: str,
        cache: HotCache | None = None,
    ) -> None:
        self._conn = conn
        self.principal = principal
        self.dialect = dialect
        self.events: list[Event] = []
        self.on_commit: list[Callable[[], None]] = []
        """Run once the transaction has committed (e.g. to cache what it wrote)."""
        self.cache = cache
        """The instance's read cache (immutable past versions are read through it)."""

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    async def execute(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Result[Any]:
        return await self._conn.execute(statement, params)

    def emit(self, event: Event) -> None:
        """Publish ``event`` on the bus once this transaction has committed."""
        self.events.append(event)


class GlobalUnitOfWork(UnitOfWork):
    """A transaction over the global tables (users, sessions, idempotency records).

    It may not touch tenant tables; with ``user_id`` set, PostgreSQL lets it see that
    user's own memberships and organizations (to list them).
    """

    def check_table(self, table: Table) -> Table:
        if table.info.get("tenant"):
            raise TenantScopeError(f"{table.name} needs a tenant unit of work")
        return table


class TenantUnitOfWork(UnitOfWork):
    """A transaction confined to one organization."""

    def __init__(
        self,
        conn: Executor,
        principal: Principal,
        org_id: str,
        *,
        dialect: str,
        cache: HotCache | None = None,
    ) -> None:
        super().__init__(conn, principal, dialect=dialect, cache=cache)
        self.org_id = org_id

    async def run(self, statement: Executable, params: Mapping[str, Any] | None = None) -> Rows:
        """Run a statement sealed by :func:`prepared`, scoped to this org, on the driver's
        own connection (``store/compiled.py``)."""
        if id(statement) not in _PREPARED:
            raise TenantScopeError("run() takes statements sealed by prepared()")
        return await self._conn.run(statement, {**(params or {}), TENANT_PARAM: self.org_id})

    async def run_many(self, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
        """:meth:`run` once per parameter set (the same keys in each), in one call to the
        driver: one round trip on PostgreSQL."""
        if id(statement) not in _PREPARED:
            raise TenantScopeError("run_many() takes statements sealed by prepared()")
        if rows:
            org = self.org_id
            await self._conn.run_many(statement, [{**p, TENANT_PARAM: org} for p in rows])

    async def run_postgres(self, sql: str, *arguments: Any) -> list[Any]:
        """PostgreSQL text whose ``$1`` is this org (filled in here, like
        :data:`TENANT_PARAM`): for the few statements SQLAlchemy cannot express, such as
        several data-modifying CTEs in one round trip. Row-level security applies."""
        if not isinstance(self._conn, PostgresConnection):
            raise TenantScopeError("run_postgres() needs PostgreSQL")
        if "$1" not in sql:
            raise TenantScopeError("run_postgres() text must scope by $1, the org")
        return await self._conn.fetch_sql(sql, self.org_id, *arguments)

    def _scope(self, table: Table) -> ColumnElement[bool]:
        return _scope_column(table) == self.org_id  # type: ignore[no-any-return]

    def select(self, table: Table, *columns: Any) -> Select[Any]:
        """``SELECT`` from ``table`` (all columns, or ``columns``) within this org."""
        stmt = sa_select(*columns) if columns else sa_select(table)
        return stmt.select_from(table).where(self._scope(table))

    def insert(self, table: Table, **values: Any) -> Insert:
        """``INSERT`` into ``table`` with this org's id stamped on the row."""
        return sa_insert(table).values({_scope_column(table).key: self.org_id, **values})

    def update(self, table: Table) -> Update:
        return sa_update(table).where(self._scope(table))

    def delete(self, table: Table) -> Delete:
        return sa_delete(table).where(self._scope(table))


class KeyedLocks:
    """One FIFO :class:`asyncio.Lock` per key, dropped when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Store:
    """Opens units of work on a :class:`Database` and publishes their events after commit."""

    def __init__(self, database: Database, publish: Publisher | None = None) -> None:
        self.database = database
        self._publish = publish
        self.dialect = "sqlite" if database.is_sqlite else "postgresql"
        self.cache = HotCache()
        """Read cache of the hot path, emptied by this instance's commits at once."""
        self._org_write_locks = KeyedLocks()

    def set_publisher(self, publish: Publisher) -> None:
        self._publish = publish

    @asynccontextmanager
    async def tenant(
        self, org_id: str, principal: Principal, *, write: bool = False
    ) -> AsyncIterator[TenantUnitOfWork]:
        """A transaction confined to ``org_id``, committed when the block exits cleanly."""
        if write and self.database.is_postgres:
            # Writers of one org queue here first, in arrival order, holding no connection:
            # PostgreSQL's row-lock waiters are not served fairly (waits of a second were
            # measured with ten writers of one org), and waiting here keeps the pool free.
            async with (
                self._org_write_locks.hold(org_id),
                self._tenant_transaction(org_id, principal, write=True) as uow,
            ):
                yield uow
        else:
            async with self._tenant_transaction(org_id, principal, write=write) as uow:
                yield uow

    @asynccontextmanager
    async def _tenant_transaction(
        self, org_id: str, principal: Principal, *, write: bool
    ) -> AsyncIterator[TenantUnitOfWork]:
        # On PostgreSQL, writers of one org take its row lock first, always in this order,
        # so quota counts and audit sequence numbers cannot race across instances (SQLite
        # serializes writers already); with the settings row-level security reads
        # (migration 0004), in the round trip that begins the transaction.
        entry = OrgEntry(org_id, principal.user_id or "", lock=write)
        async with self.database.transaction(write=write, org=entry) as conn:
            uow = TenantUnitOfWork(conn, principal, org_id, dialect=self.dialect, cache=self.cache)
            yield uow
        await self._after_commit(uow)

    @asynccontextmanager
    async def global_(
        self, principal: Principal, *, write: bool = False
    ) -> AsyncIterator[GlobalUnitOfWork]:
        """A transaction over global tables, committed when the block exits cleanly."""
        async with self.database.transaction(write=write) as conn:
            if self.database.is_postgres and principal.user_id:
                await conn.execute(
                    text("SELECT set_config('minibase.user_id', :user, true)"),
                    {"user": principal.user_id},
                )
            uow = GlobalUnitOfWork(conn, principal, dialect=self.dialect)
            yield uow
        await self._after_commit(uow)

    async def _after_commit(self, uow: UnitOfWork) -> None:
        for callback in uow.on_commit:
            callback()
        if not uow.events:
            return
        # Before the response goes out: this instance must never serve what it replaced.
        self.cache.apply(uow.events)
        if self._publish is not None:
            await self._publish(uow.events)
