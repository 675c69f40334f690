"""Collab migrations go down and up again cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, inspect, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from minibase.config import Settings
from minibase.domain.principal import SYSTEM
from minibase.store.collab_log import CollabStore
from minibase.store.database import Database
from minibase.store.migrate import alembic_config, migrate
from minibase.store.tables import flows, organizations
from minibase.store.unit_of_work import Store
from tests.collab.fakes import MemoryBridge, create_flow


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


async def _downgrade(settings: Settings, revision: str) -> None:
    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(
                lambda sync: command.downgrade(alembic_config(sync, settings), revision)
            )
            await conn.commit()
    finally:
        await engine.dispose()


async def _counted(store: Store, org_id: str, flow_id: str) -> tuple[int, int]:
    async with store.tenant(org_id, SYSTEM) as uow:
        used = (
            await uow.execute(
                select(organizations.c.storage_used).where(organizations.c.id == org_id)
            )
        ).scalar_one()
        history = (
            await uow.execute(select(flows.c.history_bytes).where(flows.c.id == flow_id))
        ).scalar_one()
    return int(used), int(history)


async def test_0007_counts_the_stored_log_in_storage(settings: Settings) -> None:
    """Rows stored before 0007 are counted by it (and uncounted by its downgrade), so
    compactions, which subtract what they fold, keep the account exact."""
    database = Database(settings)
    store = Store(database)
    try:
        org_id, flow_id = await create_flow(store, MemoryBridge(), {"name": "F"})
        log = CollabStore(store)
        await log.append(org_id, flow_id, b"\x01" * 300, SYSTEM)
        await log.compact(org_id, flow_id)
        await log.append(org_id, flow_id, b"\x02" * 200, SYSTEM)
        stored = await _counted(store, org_id, flow_id)
        assert stored[1] > 200
        await database.close()
        await _downgrade(settings, "0006")
        database = Database(settings)
        store = Store(database)
        used, history = await _counted(store, org_id, flow_id)
        assert (used, history) == (stored[0] - stored[1], 0)
        await database.close()
        await migrate(settings, "head")
        database = Database(settings)
        store = Store(database)
        assert await _counted(store, org_id, flow_id) == stored
    finally:
        await database.close()
