"""Issue 12, item 11: the data dir is 0700 and the database files 0600, whatever the umask.

(Files at rest are SQLite's: on PostgreSQL the server keeps no database file.)
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from minibase.config import Settings
from minibase.store.database import Database
from minibase.store.migrate import migrate


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield int(request.param)
    finally:
        os.umask(previous)


async def test_data_dir_and_database_files_are_private(tmp_path: Path, umask: int) -> None:
    settings = Settings(data_dir=tmp_path / "deep" / "data")
    await migrate(settings)
    database = Database(settings)
    try:
        async with database.transaction(write=True) as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        files = sorted(settings.data_dir.iterdir())
        assert {f.name for f in files} >= {"minibase.db", "minibase.db-wal", "minibase.db-shm"}
        assert mode(settings.data_dir) == 0o700
        for path in files:
            assert mode(path) == 0o600, (path.name, oct(mode(path)))
    finally:
        await database.close()


async def test_existing_files_are_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    await migrate(settings)
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / "minibase.db", 0o644)
    database = Database(settings)
    await database.close()
    assert mode(data_dir) == 0o700 and mode(data_dir / "minibase.db") == 0o600


def test_backups_exports_and_restores_are_private(settings: Settings, tmp_path: Path) -> None:
    """Whatever holds a deployment's or an organization's data is 0600 in 0700 directories,
    under a permissive umask, on either database: backups and their status files, an
    exported archive, a restored database (SQLite)."""
    import asyncio

    from minibase.store.unit_of_work import Store
    from tests.helpers import insert_org
    from tests.security.test_cli_admin import minibase

    async def an_org() -> str:
        database = Database(settings)
        try:
            return await insert_org(Store(database))
        finally:
            await database.close()

    org_id = asyncio.run(an_org())
    previous = os.umask(0o000)
    try:
        backup = minibase(settings, "backup", "--data-dir", str(settings.data_dir))
        assert backup.returncode == 0, backup.stderr
        exported = tmp_path / "exports" / "org.zip"
        exported.parent.mkdir()
        export = minibase(settings, "export", "--org", org_id, "--out", str(exported))
        assert export.returncode == 0, export.stderr
        backups = settings.data_dir / "backups"
        assert mode(backups) == 0o700
        written = sorted(backups.iterdir())
        assert {p.suffix for p in written} == {".zip", ".json"}
        for path in [*written, exported]:
            assert mode(path) == 0o600, (path.name, oct(mode(path)))
        if settings.is_sqlite:
            archive = next(p for p in written if p.suffix == ".zip")
            target = Settings(data_dir=tmp_path / "restored" / "data")
            restored = minibase(target, "restore", str(archive))
            assert restored.returncode == 0, restored.stderr
            assert mode(target.data_dir) == 0o700
            for path in target.data_dir.iterdir():
                assert mode(path) == 0o600, (path.name, oct(mode(path)))
    finally:
        os.umask(previous)
