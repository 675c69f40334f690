"""Engines and connection set-up for SQLite and PostgreSQL.

``Database`` owns the engines; the only ways to use them are the units of work in
:mod:`minibase.store.unit_of_work`. On SQLite, write transactions are serialized in
process (one writer at a time, ``BEGIN IMMEDIATE``) so they never fail with "database is
locked"; reads run concurrently under WAL. On PostgreSQL the server acts as the
unprivileged application role, so row-level security always applies.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Result, create_engine, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from minibase.config import Settings
from minibase.errors import ServiceUnavailable
from minibase.store.compiled import PostgresPrepared, Prepared, Rows
from minibase.store.files import secure_data_dir

log = logging.getLogger("minibase.store")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


BUSY_TIMEOUT_MS = 5000
"""How long a SQLite connection waits for a lock before it gives up."""

WAL_TRUNCATE_FRAMES = 16384
"""A WAL past this many frames (64 MiB of 4 KiB pages) is emptied (``checkpoint_loop``)."""

TRUNCATE_WAIT_MS = 100
"""How long the emptying checkpoint waits for readers before it does what it can."""


def _sqlite_engine(url: str, *, writer: bool) -> Engine:
    """A synchronous pysqlite engine, used on the event loop itself (see :class:`Database`)."""
    engine = create_engine(
        make_url(url).set(drivername="sqlite"),
        # The writer is used by one coroutine at a time (the write lock). Readers never
        # wait for a pooled connection: a blocking checkout on the event loop could wait
        # forever for a coroutine that cannot run, so the pool grows instead.
        pool_size=1 if writer else 16,
        max_overflow=0 if writer else -1,
        connect_args={"timeout": 5, "check_same_thread": False},
        hide_parameters=True,  # an error never carries a row's values (docs/security.md)
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable against process crashes
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Checkpoints run in the background (Database.checkpoint_loop), never inside a
        # request's commit, where their fsync would stall the writer for tens of ms.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    begin_sql = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # On the driver's connection: SQLAlchemy's execution path for this one fixed
        # statement cost more than the statement (a fifth of a collab append under load).
        # Its errors are wrapped as that path would ("database is locked" included).
        try:
            conn.connection.dbapi_connection.execute(begin_sql)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(begin_sql, None, exc, sqlite3.Error) from exc

    return engine


class InlineConnection:
    """A synchronous SQLite connection behind the awaitable ``execute`` of the store.

    SQLite answers a statement in microseconds from the page cache; a hop to a worker
    thread per statement (aiosqlite) costs ~0.27 ms, twenty times the statement itself,
    and a save runs about eight. So SQLite statements run on the event loop. Commits do
    not fsync (WAL, ``synchronous=NORMAL``) and checkpoints run in a worker thread, so
    nothing here blocks the loop for long.
    """

    def __init__(self, conn: Connection, dialect: Dialect) -> None:
        self._conn = conn
        self._dialect = dialect

    async def execute(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Result[Any]:
        return self._conn.execute(statement, params)

    async def run(self, statement: Prepared, params: Mapping[str, Any]) -> Rows:
        """A prepared statement on the pysqlite cursor itself (see ``store/compiled.py``)."""
        compiled = statement.compiled(self._dialect, params)
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, compiled.arguments(params))
            rows = compiled.rows(cursor.fetchall()) if compiled.row_type else []
            return Rows(rows, cursor.rowcount)
        finally:
            cursor.close()

    async def run_many(self, statement: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        """A prepared statement (returning nothing) once per parameter set, in one call."""
        compiled = statement.compiled(self._dialect, rows[0])
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, [compiled.arguments(p) for p in rows])
        finally:
            cursor.close()


class PostgresConnection:
    """A pooled PostgreSQL connection inside one transaction begun on its asyncpg driver
    (``Database._postgres_transaction``), for the units of work."""

    def __init__(self, conn: AsyncConnection, dialect: Dialect, driver: Any) -> None:
        self._conn = conn
        self._dialect = dialect
        self._driver = driver

    async def execute(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Result[Any]:
        return await self._conn.execute(statement, params)

    async def enter_org(self, org_id: str, user_id: str, *, lock: bool) -> None:
        """Set the row-level security settings (and lock the org row) in one round trip:
        ``minibase_enter_org``, migration 0004."""
        await self._driver.execute(
            "SELECT minibase_enter_org($1::text, $2::text, $3::boolean)", org_id, user_id, lock
        )

    async def run(self, statement: Prepared, params: Mapping[str, Any]) -> Rows:
        """A prepared statement on the asyncpg connection itself, in the same transaction
        (see ``store/compiled.py``)."""
        compiled = statement.compiled(self._dialect, params)
        arguments = compiled.arguments(params)
        if compiled.row_type is None:
            status = await self._driver.execute(compiled.sql, *arguments)
            return Rows([], int(status.rsplit(" ", 1)[-1]))
        records = await self._driver.fetch(compiled.sql, *arguments)
        return Rows(compiled.rows(records), len(records))

    async def run_text(self, statement: PostgresPrepared, arguments: Sequence[Any]) -> Rows:
        """PostgreSQL text with ``$n`` parameters, for what SQLAlchemy cannot express."""
        records = await self._driver.fetch(statement.sql, *arguments)
        return Rows(statement.rows(records), len(records))

    async def run_many(self, statement: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        """A prepared statement (returning nothing) once per parameter set, pipelined in
        one round trip by asyncpg."""
        compiled = statement.compiled(self._dialect, rows[0])
        if len(rows) == 1:
            await self._driver.execute(compiled.sql, *compiled.arguments(rows[0]))
        else:
            await self._driver.executemany(compiled.sql, [compiled.arguments(p) for p in rows])


PING_AFTER_IDLE_SECONDS = 5.0
"""A pooled PostgreSQL connection idle longer than this is pinged before use."""


def _postgres_engine(url: str, *, pool_size: int, set_role: str) -> AsyncEngine:
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, hide_parameters=True
    )

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        # A connection in steady use needs no ping: its last statement just succeeded,
        # and SQLAlchemy's pre-ping costs three round trips (BEGIN, ping, ROLLBACK) on
        # asyncpg, inside every writer's critical section. One left idle (the server may
        # have restarted or dropped it) is pinged; a dead one makes the pool try a new one.
        driver = getattr(dbapi_conn, "driver_connection", None)
        if driver is not None and driver.is_closed():  # the server hung up: no round trip
            raise DisconnectionError("pooled connection was closed by the server")
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_conn.ping()
        except Exception as exc:  # any failure means: not usable
            raise DisconnectionError("pooled connection did not answer its ping") from exc

    if set_role:

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute(f"SET ROLE {_quote_ident(set_role)}")
            cursor.close()
            # The driver ran that inside a transaction of its own: commit it, or the first
            # rollback on this connection would undo the role and the connection would
            # serve every later request as the migrating user, past row-level security.
            dbapi_conn.commit()

    return engine


@dataclass(frozen=True, slots=True)
class OrgEntry:
    """The organization a PostgreSQL transaction enters (``minibase_enter_org``)."""

    org_id: str
    user_id: str
    lock: bool


_PLAIN_ID = re.compile(r"[a-z0-9_]{0,64}")


def _enter_in_begin(org: OrgEntry) -> str:
    """``BEGIN`` and ``minibase_enter_org`` as one simple query (one round trip instead of
    two, inside the writers' critical section), or just ``BEGIN`` when an id is not a
    plain id (the function is then called with bound parameters). The simple query
    protocol takes no parameters: only ids made of ``[a-z0-9_]`` (every id this server
    makes; an org id from a URL that is not one names no org) are ever spliced in."""
    if not (_PLAIN_ID.fullmatch(org.org_id) and _PLAIN_ID.fullmatch(org.user_id)):
        return "BEGIN"
    lock = "true" if org.lock else "false"
    return f"BEGIN; SELECT minibase_enter_org('{org.org_id}', '{org.user_id}', {lock})"


Executor = PostgresConnection | InlineConnection
"""What a transaction hands to a unit of work: ``execute`` for statements built per call,
``run`` (``run_many``, ``run_text``) for prepared ones (``store/compiled.py``)."""


class Database:
    """The engines of one deployment, and the transactions opened on them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.is_sqlite = settings.is_sqlite
        self.is_postgres = settings.is_postgres
        self._sqlite_read: Engine | None = None
        self._sqlite_write: Engine | None = None
        self._engine: AsyncEngine | None = None
        if self.is_sqlite:
            secure_data_dir(settings, create=False)
            self._sqlite_read = _sqlite_engine(settings.database_url, writer=False)
            self._sqlite_write = _sqlite_engine(settings.database_url, writer=True)
        elif self.is_postgres:
            if settings.app_database_url:
                self._engine = _postgres_engine(
                    settings.app_database_url, pool_size=settings.database_pool_size, set_role=""
                )
            else:
                self._engine = _postgres_engine(
                    settings.database_url,
                    pool_size=settings.database_pool_size,
                    set_role=settings.app_role,
                )
        else:
            scheme = make_url(settings.database_url).drivername
            raise ValueError(f"unsupported database URL scheme {scheme!r}")
        self._write_lock = asyncio.Lock()
        self._writer_conn: Connection | None = None
        engine = self._engine.sync_engine if self._engine is not None else self._sqlite_write
        assert engine is not None
        self._dialect = engine.dialect

    @asynccontextmanager
    async def transaction(
        self, *, write: bool, org: OrgEntry | None = None
    ) -> AsyncIterator[Executor]:
        """A connection inside one transaction; committed on success, rolled back on error.

        ``org``: on PostgreSQL, the transaction first enters that organization (row-level
        security settings, and its row lock when writing; see ``minibase_enter_org``).
        Internal to the store: services receive units of work, never this connection.
        """
        if self._engine is not None:
            async with self._postgres_transaction(org) as pg:
                yield pg
            return
        assert self._sqlite_read is not None and self._sqlite_write is not None
        if write:
            async with self._write_lock:
                # Yield once, holding the lock: writers that arrived meanwhile queue on it
                # in arrival order, and the event loop reads its sockets between two of
                # them. A writer that never suspends would run a whole batch of requests in
                # the order the loop read their sockets, and the client answered last in a
                # batch would keep missing the next read, waiting two batches instead of
                # one (p95 twice the p50 with ten concurrent writers; docs/benchmarks.md).
                await asyncio.sleep(0)
                writer = self._writer()
                with writer.begin():
                    yield InlineConnection(writer, self._dialect)
        else:
            with self._sqlite_read.begin() as sync_conn:
                yield InlineConnection(sync_conn, self._dialect)

    def _writer(self) -> Connection:
        """The SQLite writer's connection, kept open between transactions: checking one
        out of the pool and back costs more than a small write transaction itself."""
        conn = self._writer_conn
        if conn is None or conn.closed or conn.invalidated:
            assert self._sqlite_write is not None
            conn = self._writer_conn = self._sqlite_write.connect()
        return conn

    @asynccontextmanager
    async def _postgres_transaction(
        self, org: OrgEntry | None
    ) -> AsyncIterator[PostgresConnection]:
        """One transaction begun and ended on the asyncpg connection itself.

        SQLAlchemy still pools the connection (``SET ROLE``, idle pings) and runs the
        statements built per call, but in autocommit mode, so it never wraps BEGIN and
        COMMIT in its own layers (0.1-0.2 ms each, inside the writers' critical section):
        every statement then runs inside this transaction. ``BEGIN`` and entering the org
        go in one round trip when the ids are plain ids (:func:`_enter_in_begin`).
        """
        assert self._engine is not None
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            pg = PostgresConnection(conn, self._dialect, driver)
            try:
                begin = _enter_in_begin(org) if org is not None else "BEGIN"
                await driver.execute(begin)
                if org is not None and begin == "BEGIN":
                    await pg.enter_org(org.org_id, org.user_id, lock=org.lock)
                yield pg
            except BaseException:
                try:
                    await driver.execute("ROLLBACK")
                except BaseException:
                    # Never hand a connection in an unknown state back to the pool.
                    await conn.invalidate()
                    raise
                raise
            try:
                await driver.execute("COMMIT")
            except BaseException:
                await conn.invalidate()  # the same after a COMMIT that did not answer
                raise

    def _checkpoint(self, mode: str, wait_ms: int = BUSY_TIMEOUT_MS) -> int:
        """Run ``PRAGMA wal_checkpoint(mode)``, waiting at most ``wait_ms`` for readers;
        the frames the WAL held."""
        assert self._sqlite_read is not None
        with self._sqlite_read.connect() as conn:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
            try:
                row = conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})").fetchone()
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return int(row[1]) if row is not None else 0

    async def checkpoint_loop(
        self, interval: float = 1.0, truncate_over: int = WAL_TRUNCATE_FRAMES
    ) -> None:
        """SQLite: copy the WAL into the database file every ``interval`` seconds.

        ``PASSIVE`` never blocks readers or the writer; it stops at the oldest reader. It
        runs in a worker thread: its fsync must not hold up the event loop.

        Under writes that never pause, a ``PASSIVE`` checkpoint never catches up with
        the writer, so the writer never starts the WAL again from its beginning: the
        file grew without bound (189 MB after a minute of 50 collab writers, for a 2 MB
        database). Once it holds more than ``truncate_over`` frames, the loop takes the
        write lock (writers wait for it, the event loop does not) and checkpoints with
        ``TRUNCATE``, which empties the file; readers get ``TRUNCATE_WAIT_MS`` to finish.
        """
        if not self.is_sqlite:
            return
        while True:
            await asyncio.sleep(interval)
            try:
                frames = await asyncio.to_thread(self._checkpoint, "PASSIVE")
                if frames > truncate_over:
                    async with self._write_lock:
                        await asyncio.to_thread(self._checkpoint, "TRUNCATE", TRUNCATE_WAIT_MS)
            except SQLAlchemyError:
                log.warning("WAL checkpoint failed", exc_info=True)

    async def ping(self) -> None:
        """Raise :class:`ServiceUnavailable` when the database does not answer."""
        try:
            async with self.transaction(write=False) as conn:
                await conn.execute(text("SELECT 1"))
        except (OSError, TimeoutError, SQLAlchemyError) as exc:
            raise ServiceUnavailable("The database does not answer.") from exc

    async def close(self) -> None:
        if self._writer_conn is not None:
            self._writer_conn.close()
            self._writer_conn = None
        if self._engine is not None:
            await self._engine.dispose()
        for engine in (self._sqlite_read, self._sqlite_write):
            if engine is not None:
                engine.dispose()
