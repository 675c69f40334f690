"""Apply the Alembic migrations, under a PostgreSQL advisory lock.

Several instances may start at once on an empty database: the lock makes the first one
migrate and the others wait, then find nothing left to do.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from minibase.config import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ADVISORY_LOCK_KEY = 0x6D696E6962617365  # "minibase"


def alembic_config(connection: Connection, settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["app_role"] = settings.app_role
    return config


def _upgrade(connection: Connection, settings: Settings) -> None:
    command.upgrade(alembic_config(connection, settings), "head")


async def migrate(settings: Settings) -> None:
    """Bring the database named by ``settings`` to the newest schema."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            if settings.is_postgres:
                await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
                await conn.commit()
            try:
                await conn.run_sync(_upgrade, settings)
                await conn.commit()
            finally:
                if settings.is_postgres:
                    await conn.execute(
                        text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY}
                    )
                    await conn.commit()
    finally:
        await engine.dispose()
