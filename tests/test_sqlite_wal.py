"""SQLite's WAL stays bounded under writes that never pause (``Database.checkpoint_loop``)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import text

from minibase.config import Settings
from minibase.store.database import Database


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_wal_is_emptied_under_writes_that_never_pause(settings: Settings) -> None:
    database = Database(settings)
    wal = Path(settings.data_dir) / "minibase.db-wal"
    checkpoints = asyncio.create_task(database.checkpoint_loop(interval=0.002, truncate_over=64))
    try:
        async with database.transaction(write=True) as conn:
            await conn.execute(text("CREATE TABLE wal_probe (x BLOB)"))
        largest = 0
        for _ in range(3000):
            async with database.transaction(write=True) as conn:
                await conn.execute(
                    text("INSERT INTO wal_probe VALUES (:x)"), {"x": os.urandom(3000)}
                )
            size = wal.stat().st_size if wal.exists() else 0
            largest = max(largest, size)
        # 3,000 commits of a 3 KB row: about 12 MB of frames if nothing empties the WAL.
        assert largest < 4 * 1024 * 1024, largest
    finally:
        checkpoints.cancel()
        await asyncio.gather(checkpoints, return_exceptions=True)
        await database.close()
