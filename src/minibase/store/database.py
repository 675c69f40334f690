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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from minibase.config import Settings
from minibase.errors import ServiceUnavailable

log = logging.getLogger("minibase.store")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_engine(url: str, *, writer: bool) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=1 if writer else 8,
        max_overflow=0,
        pool_timeout=60,
        connect_args={"timeout": 30, "check_same_thread": False},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable against process crashes
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Checkpoints run in the background (Database.checkpoint_loop), never inside a
        # request's commit, where their fsync would stall the writer for tens of ms.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    begin_sql = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


def _postgres_engine(url: str, *, pool_size: int, set_role: str) -> AsyncEngine:
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )
    if set_role:

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute(f"SET ROLE {_quote_ident(set_role)}")
            cursor.close()

    return engine


class Database:
    """The engines of one deployment, and the transactions opened on them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.is_sqlite = settings.is_sqlite
        self.is_postgres = settings.is_postgres
        if self.is_sqlite:
            self._read_engine = _sqlite_engine(settings.database_url, writer=False)
            self._write_engine = _sqlite_engine(settings.database_url, writer=True)
        elif self.is_postgres:
            if settings.app_database_url:
                engine = _postgres_engine(
                    settings.app_database_url, pool_size=settings.database_pool_size, set_role=""
                )
            else:
                engine = _postgres_engine(
                    settings.database_url,
                    pool_size=settings.database_pool_size,
                    set_role=settings.app_role,
                )
            self._read_engine = self._write_engine = engine
        else:
            scheme = make_url(settings.database_url).drivername
            raise ValueError(f"unsupported database URL scheme {scheme!r}")
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        """A connection inside one transaction; committed on success, rolled back on error.

        Internal to the store: services receive units of work, never this connection.
        """
        if write and self.is_sqlite:
            async with self._write_lock, self._write_engine.begin() as conn:
                yield conn
        else:
            engine = self._write_engine if write else self._read_engine
            async with engine.begin() as conn:
                yield conn

    async def checkpoint_loop(self, interval: float = 1.0) -> None:
        """SQLite: copy the WAL into the database file every ``interval`` seconds.

        ``PASSIVE`` never blocks readers or the writer; it stops at the oldest reader.
        """
        if not self.is_sqlite:
            return
        while True:
            await asyncio.sleep(interval)
            try:
                async with self._read_engine.connect() as conn:
                    await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except SQLAlchemyError:
                log.warning("WAL checkpoint failed", exc_info=True)

    async def ping(self) -> None:
        """Raise :class:`ServiceUnavailable` when the database does not answer."""
        try:
            async with self._read_engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OSError, TimeoutError, SQLAlchemyError) as exc:
            raise ServiceUnavailable("The database does not answer.") from exc

    async def close(self) -> None:
        await self._read_engine.dispose()
        if self._write_engine is not self._read_engine:
            await self._write_engine.dispose()
