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
import functools
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, overload

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

from minibase.domain.events import Event, Publisher
from minibase.domain.principal import Principal
from minibase.store.compiled import PostgresPrepared, Prepared, Processor, Rows
from minibase.store.data_keys import KeyRing, Sealer, destroy_key, sealer_for
from minibase.store.database import Database, Executor, OrgEntry, PostgresConnection
from minibase.store.hot_cache import HotCache


class TenantScopeError(RuntimeError):
    """A global unit of work was asked to touch a tenant table (a programming error)."""


USER_READABLE = frozenset({"memberships"})
"""Tenant tables a global unit of work opened for a user may read (their own rows)."""


TENANT_PARAM = "tenant_org_id"
"""The bound parameter that carries the org of a prepared statement (see :func:`prepared`)."""


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


def prepared(statement: Executable) -> Prepared:
    """A statement built once, at import, for :meth:`UnitOfWork.execute`'s fast path.

    Building a SQLAlchemy statement and its cache key costs 0.2-0.3 ms, ten times running
    it, and a flow save runs six: the hot paths build theirs once (``scoped_*`` plus
    refinements), with every value a bound parameter. The org scope is the parameter
    :data:`TENANT_PARAM`, which only a :class:`TenantUnitOfWork` fills in, with its own
    org: the same first wall as the per-call builders. A statement without it is refused.
    """
    if not any(
        isinstance(e, BindParameter) and e.key == TENANT_PARAM
        for e in iterate(statement)  # type: ignore[arg-type]
    ):
        raise TenantScopeError("a prepared statement must come from a scoped_* builder")
    return Prepared(statement)


def prepared_postgres(
    sql: str,
    names: Sequence[str],
    *,
    arrays: bool = False,
    bind: Sequence[Processor] | None = None,
) -> PostgresPrepared:
    """PostgreSQL text whose ``$1`` is the org (filled in by the unit of work, like
    :data:`TENANT_PARAM`) and ``$2``... the parameters ``names``: for the few statements
    SQLAlchemy cannot express, such as several data-modifying CTEs in one round trip.
    With ``arrays``, ``$2``... are arrays of the parameters' values, one element per
    parameter set, and a list of sets runs as one statement (see
    :class:`~minibase.store.compiled.PostgresPrepared`). Row-level security applies;
    text that does not use ``$1`` is refused."""
    if not re.search(r"\$1(?!\d)", sql):
        raise TenantScopeError("PostgreSQL text must scope by $1, the org")
    return PostgresPrepared(sql, names, arrays=arrays, bind=bind)


Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]
"""One parameter set, or a list of them (the statement runs once per set, in one call)."""


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

    @overload
    async def execute(
        self, statement: Prepared | PostgresPrepared, params: Params | None = None
    ) -> Rows: ...

    @overload
    async def execute(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Result[Any]: ...

    async def execute(
        self,
        statement: Prepared | PostgresPrepared | Executable,
        params: Params | None = None,
    ) -> Rows | Result[Any]:
        """Run a statement in this transaction: the one way to run one.

        A statement made by :func:`prepared` (or :func:`prepared_postgres`) takes the fast
        path: compiled once, run on the driver's own connection (``store/compiled.py``),
        scoped to this unit of work's org; a list of parameter sets runs it once per set
        in one call (one round trip on PostgreSQL). A statement built per call goes
        through SQLAlchemy (:meth:`TenantUnitOfWork.select` and the other builders scope
        it to the org).
        """
        if isinstance(statement, Prepared | PostgresPrepared):
            return await self._run(statement, params)
        assert params is None or isinstance(params, Mapping)
        self._check(statement)
        return await self._conn.execute(statement, params)

    def _check(self, statement: Executable) -> None:
        """Refuse a statement this unit of work may not run (see :class:`GlobalUnitOfWork`)."""

    async def _run(self, statement: Prepared | PostgresPrepared, params: Params | None) -> Rows:
        raise TenantScopeError(
            "prepared statements are scoped to an org: use a tenant unit of work"
        )

    def emit(self, event: Event) -> None:
        """Publish ``event`` on the bus once this transaction has committed."""
        self.events.append(event)


@functools.lru_cache(maxsize=512)
def _tables(statement: Executable) -> tuple[Table, ...]:
    """The tables ``statement`` names. Statements are immutable, and those run often are
    built once (the run queue's claim), so the walk is kept per statement object: it cost
    a claim as much CPU as its execution."""
    found = (e for e in iterate(statement) if isinstance(e, Table))  # type: ignore[arg-type]
    return tuple(dict.fromkeys(found))


class GlobalUnitOfWork(UnitOfWork):
    """A transaction over the global tables (users, sessions, idempotency records).

    Every statement it runs is checked: one that names a tenant table raises
    :class:`TenantScopeError`, with two exceptions: a ``SELECT`` in a unit of work opened
    for a user (``principal.user_id`` set) may read ``memberships``, to list that user's
    own organizations (on PostgreSQL, row-level security then shows it only their rows);
    and :meth:`find_by_secret` finds a credential or invitation by its hash.
    """

    def __init__(
        self,
        conn: Executor,
        principal: Principal,
        *,
        dialect: str,
        keys: KeyRing | None = None,
    ) -> None:
        super().__init__(conn, principal, dialect=dialect)
        self._keys = keys

    async def sealer_of(self, org_id: str) -> Sealer:
        """A sealer that opens (never seals) ``org_id``'s values quoted in global rows,
        such as a comment's excerpt in a notification (``services/notifications.py``).
        With the org's key gone (deleted, shredded), sealed values raise
        :class:`~minibase.errors.Undecryptable`."""
        if self._keys is None:
            return Sealer(org_id, None, sealing=False)
        return await sealer_for(
            self, self._keys, org_id, write=False, on_commit=self.on_commit.append
        )

    def _check(self, statement: Executable) -> None:
        reading = isinstance(statement, Select)
        for table in _tables(statement):
            self.check_table(table, reading=reading)

    async def find_by_secret(self, statement: Select[Any]) -> Result[Any]:
        """Run a ``SELECT`` that finds a tenant row by a secret's hash, before its org is known.

        Only for ``store/lookups.py`` on SQLite (PostgreSQL runs those lookups through
        ``SECURITY DEFINER`` functions that return the one matching row).
        """
        return await self._conn.execute(statement)

    def check_table(self, table: Table, *, reading: bool = False) -> Table:
        """``table``, or :class:`TenantScopeError` if this unit of work may not touch it."""
        if table.info.get("tenant") and not (
            reading and self.principal.user_id and table.name in USER_READABLE
        ):
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
        keys: KeyRing | None = None,
        write: bool = False,
    ) -> None:
        super().__init__(conn, principal, dialect=dialect, cache=cache)
        self.org_id = org_id
        self.write = write
        self._keys = keys
        self._sealer: Sealer | None = None

    async def sealer(self) -> Sealer:
        """How this org's values are sealed and opened at rest (``store/data_keys.py``):
        the one entry point of encryption, its key looked up once per transaction."""
        sealer = self._sealer
        if sealer is None:
            if self._keys is None:
                sealer = Sealer(self.org_id, None, sealing=False)
            else:
                sealer = await sealer_for(
                    self, self._keys, self.org_id, write=self.write, on_commit=self.on_commit.append
                )
            self._sealer = sealer
        return sealer

    async def shred_data_key(self) -> None:
        """Destroy this org's data key with this transaction (the org is being deleted),
        and once it commits, record the org in the shred list outside the database."""
        await destroy_key(self, self.org_id)
        keys, org = self._keys, self.org_id
        if keys is not None:
            self.on_commit.append(lambda: keys.record_shredded(org))

    async def _run(self, statement: Prepared | PostgresPrepared, params: Params | None) -> Rows:
        """The fast path of :meth:`execute`, with this org as the statement's scope."""
        org, conn = self.org_id, self._conn
        if isinstance(statement, PostgresPrepared):
            if not isinstance(conn, PostgresConnection):
                raise TenantScopeError("PostgreSQL text needs PostgreSQL")
            if statement.arrays:
                rows = [params] if isinstance(params, Mapping) else list(params or ())
                if not rows:
                    return Rows([], 0)
                return await conn.run_text(statement, statement.array_arguments(org, rows))
            assert params is None or isinstance(params, Mapping)
            return await conn.run_text(statement, statement.arguments(org, params or {}))
        if params is None or isinstance(params, Mapping):
            return await conn.run(statement, {**(params or {}), TENANT_PARAM: org})
        if params:
            await conn.run_many(statement, [{**p, TENANT_PARAM: org} for p in params])
        return Rows([], len(params))

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

    def __init__(
        self,
        database: Database,
        publish: Publisher | None = None,
        *,
        keys: KeyRing | None = None,
    ) -> None:
        self.database = database
        self.keys = keys if keys is not None else KeyRing(database.settings)
        """The master keys and unwrapped data keys of encryption at rest."""
        self._publish = publish
        self.dialect = "sqlite" if database.is_sqlite else "postgresql"
        self.cache = HotCache()
        """Read cache of the hot path, emptied by this instance's commits at once."""
        self._org_write_locks = KeyedLocks()
        self.before_commit: Callable[[TenantUnitOfWork], Awaitable[None]] | None = None
        """Called at the end of every tenant write transaction that recorded events, inside
        it (the event webhooks' outbox, ``services/event_webhooks.py``, set by the app)."""

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
            uow = TenantUnitOfWork(
                conn,
                principal,
                org_id,
                dialect=self.dialect,
                cache=self.cache,
                keys=self.keys,
                write=write,
            )
            yield uow
            if write and uow.events and self.before_commit is not None:
                await self.before_commit(uow)
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
            uow = GlobalUnitOfWork(conn, principal, dialect=self.dialect, keys=self.keys)
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
