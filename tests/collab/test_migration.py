"""Migration 0002 goes down and up again cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from minibase.config import Settings
from minibase.store.migrate import alembic_config


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _down_up(conn: Connection, settings: Settings) -> tuple[set[str], set[str]]:
    config = alembic_config(conn, settings)
    command.downgrade(config, "0001")
    after_down = _tables(conn)
    command.upgrade(config, "head")
    return after_down, _tables(conn)


async def test_0002_downgrade_and_upgrade(settings: Settings) -> None:
    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            down, up = await conn.run_sync(_down_up, settings)
            await conn.commit()
    finally:
        await engine.dispose()
    collab = {"flow_doc_updates", "flow_doc_snapshots"}
    assert not collab & down
    assert collab <= up
