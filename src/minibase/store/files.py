"""Files at rest: the data dir is 0700 and the database files 0600, whatever the umask.

SQLite creates its ``-wal`` and ``-shm`` files with the permissions of the database file,
so making the database file 0600 before SQLite first opens it covers them too. Every
other file that holds a deployment's or an organization's data (backups and their
status files, a restored database, exported archives) is made with
:func:`private_file` in a directory made with :func:`private_dir`: 0600 and 0700 too.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from minibase.config import Settings

DIR_MODE = 0o700
FILE_MODE = 0o600


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file ``settings`` name (None on PostgreSQL or in memory)."""
    if not settings.is_sqlite:
        return None
    database = make_url(settings.database_url).database
    return Path(database) if database and database != ":memory:" else None


def secure_data_dir(settings: Settings, *, create: bool) -> None:
    """Tighten the data dir (0700) and the SQLite files (0600) of ``settings``.

    ``create``: make the data dir and an empty database file first (``migrate``), so the
    file never exists with looser permissions; otherwise only what exists is tightened.
    """
    if not settings.is_sqlite:
        return
    database = sqlite_path(settings)
    directories = {settings.data_dir} | ({database.parent} if database else set())
    for directory in directories:
        if create:
            directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        if directory == settings.data_dir and directory.is_dir():
            os.chmod(directory, DIR_MODE)
    if database is None:
        return
    if create:
        os.close(os.open(database, os.O_CREAT | os.O_RDWR, FILE_MODE))
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        if path.exists():
            os.chmod(path, FILE_MODE)


def private_dir(directory: Path) -> Path:
    """``directory``, created if need be, and made 0700 (its parents are left as they are)."""
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(directory, DIR_MODE)
    return directory


def private_file(path: Path) -> Path:
    """``path`` created empty (or emptied) with mode 0600, whatever the umask, before
    anything is written to it; open it afterwards with ``"wb"`` or ``"w"``."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path
