"""What the server says at start about the database it migrated."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from minibase.config import Settings
from minibase.store.migrate import AUTOVACUUM_OFF, migrate


async def _autovacuum(settings: Settings) -> str:
    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return str((await conn.execute(text("SHOW autovacuum"))).scalar_one())
    finally:
        await engine.dispose()


async def test_a_postgresql_without_autovacuum_is_named_at_start(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Without statistics, pooled connections keep the plans they made on near-empty
    # tables (a lookup by key read every run of an org in the engine benchmark): an
    # operator who turned autovacuum off is told at each start (`minibase migrate`,
    # `serve`, `worker`); migrating alone (a backup's scratch database) says nothing.
    with caplog.at_level(logging.WARNING, logger="minibase.store"):
        await migrate(settings)
    assert AUTOVACUUM_OFF not in caplog.messages
    with caplog.at_level(logging.WARNING, logger="minibase.store"):
        await migrate(settings, warn_of_settings=True)
    warned = AUTOVACUUM_OFF in caplog.messages
    if settings.is_sqlite:
        assert not warned
    else:
        assert warned == (await _autovacuum(settings) != "on")
