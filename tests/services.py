"""Real backing services for tests: PostgreSQL databases made from a migrated template.

Each test gets its own database (SQLite file or PostgreSQL database), copied from a
template migrated once per test session, and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from pathlib import Path

import asyncpg
import pytest

from minibase.config import Settings
from minibase.store.migrate import migrate

PG_HOST = os.environ.get("MINIBASE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("MINIBASE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("MINIBASE_TEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("MINIBASE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("MINIBASE_REQUIRE_SERVICES") == "1"


def pg_url(database: str, driver: str = "postgresql+asyncpg") -> str:
    return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _pg_admin(*statements: str) -> None:
    conn = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
    )
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def pg_admin(*statements: str) -> None:
    asyncio.run(_pg_admin(*statements))


def postgres_available() -> bool:
    try:
        pg_admin("SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def skip_or_fail(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (MINIBASE_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


class PostgresTemplate:
    """A migrated template database; ``new_database`` clones it in a few milliseconds."""

    def __init__(self) -> None:
        self.name = f"mbtpl_{os.getpid()}_{secrets.token_hex(4)}"
        pg_admin(f'CREATE DATABASE "{self.name}"')
        asyncio.run(migrate(Settings(database_url=pg_url(self.name))))

    def new_database(self) -> str:
        name = f"mbt_{secrets.token_hex(6)}"
        pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        return name

    @staticmethod
    def drop(name: str) -> None:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.drop(self.name)


class SqliteTemplate:
    """A migrated SQLite file; ``new_database`` copies it."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.db"
        asyncio.run(migrate(Settings(data_dir=directory)))
        (directory / "minibase.db").rename(self.path)

    def new_database(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.path, data_dir / "minibase.db")
