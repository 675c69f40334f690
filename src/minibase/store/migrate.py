"""Apply the Alembic migrations, under a PostgreSQL advisory lock.

Several instances may start at once on an empty database: the lock makes the first one
migrate and the others wait, then find nothing left to do.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from minibase.config import Settings
from minibase.store.files import secure_data_dir

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ADVISORY_LOCK_KEY = 0x6D696E6962617365  # "minibase"

log = logging.getLogger("minibase.store")

AUTOVACUUM_OFF = (
    "PostgreSQL's autovacuum is off: keep it on, or run ANALYZE as the tables grow. "
    "Without statistics, each pooled connection keeps the plans it made while the tables "
    "were small, and a lookup by key may read every row of an organization "
    "(docs/guide.md, Operations)."
)


def alembic_config(connection: Connection, settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["app_role"] = settings.app_role
    return config


def head_revision() -> str:
    """The newest schema revision this release knows."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def _upgrade(connection: Connection, settings: Settings, revision: str) -> None:
    command.upgrade(alembic_config(connection, settings), revision)


async def migrate(
    settings: Settings, revision: str = "head", *, warn_of_settings: bool = False
) -> None:
    """Bring the database named by ``settings`` to the newest schema (or to ``revision``:
    a restore first builds the schema its backup was taken with).

    ``warn_of_settings``: also log what the database's own settings will cost the server
    (PostgreSQL's autovacuum off), on the same connection. The server's starts ask for it
    (``minibase migrate``, ``serve``, ``worker``); the scratch databases of a backup's
    verification do not."""
    secure_data_dir(settings, create=True)
    engine = create_async_engine(settings.database_url, poolclass=NullPool, hide_parameters=True)
    try:
        async with engine.connect() as conn:
            if settings.is_postgres:
                await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
                await conn.commit()
            try:
                await conn.run_sync(_upgrade, settings, revision)
                await conn.commit()
                if warn_of_settings and settings.is_postgres:
                    setting = await conn.execute(text("SELECT current_setting('autovacuum')"))
                    if setting.scalar_one() != "on":
                        log.warning(AUTOVACUUM_OFF)
            finally:
                if settings.is_postgres:
                    await conn.execute(
                        text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY}
                    )
                    await conn.commit()
    finally:
        await engine.dispose()
