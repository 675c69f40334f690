"""Whole-deployment backups: taken while the server writes, checked before any restore.

A backup is a zip archive (stored, not compressed; zip64) holding

- ``manifest.json``: ``format`` (``minibase-backup``), ``formatVersion``,
  ``minibaseVersion``, ``engine`` (``sqlite`` | ``postgresql``), ``schemaRevision``,
  ``createdAt``, and for each data file its ``sha256`` and size, for each table its row
  count and columns;
- SQLite: ``minibase.db``, a copy made with SQLite's online backup API in one step (one
  read transaction: a consistent snapshot, while writers go on under WAL);
- PostgreSQL: ``tables/<name>.copy``, each table in ``COPY`` binary format, all read in one
  ``REPEATABLE READ READ ONLY`` transaction (one snapshot for every table).

Restoring checks the manifest (format, version, engine, schema revision) and every
checksum before it writes anything, and only into an empty target. Reading every row and
writing them back needs a PostgreSQL role that bypasses row-level security (a superuser or
a role with ``BYPASSRLS``, as ``pg_dump`` does): ``row_security`` is turned off, so a role
that does not bypass it gets an error instead of a silently partial backup.

Engine-level work only; the checks that need the services (audit chains) are in
:mod:`minibase.services.backups`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import sqlite3
import tempfile
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import asyncpg
import orjson
from sqlalchemy.engine import make_url

from minibase import __version__
from minibase.config import Settings
from minibase.crypto.master_keys import read_shred_list, shred_list_path
from minibase.errors import Conflict, InvalidArchive, MinibaseError, UnsupportedFormat
from minibase.ids import now_ms
from minibase.store.files import private_dir, private_file
from minibase.store.migrate import head_revision, known_revisions, migrate
from minibase.store.tables import metadata

FORMAT = "minibase-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "minibase.db"
CHUNK = 1024 * 1024


class BackupFailed(MinibaseError):
    """A backup or restore that could not run (the database refused, a file is missing)."""

    code = "backup_failed"
    default_message = "The backup could not be made."


class Progress:
    """Where long copies report how far they are; this one reports nowhere."""

    def start(self, description: str, total: int | None) -> None:
        """A new phase, ``total`` bytes long (``None``: unknown)."""

    def advance(self, done: int) -> None:
        """``done`` more bytes of the current phase."""


@dataclass
class Manifest:
    engine: str
    schema_revision: str
    created_at: int
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    minibase_version: str = __version__

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "formatVersion": self.format_version,
            "minibaseVersion": self.minibase_version,
            "engine": self.engine,
            "schemaRevision": self.schema_revision,
            "createdAt": self.created_at,
            "files": self.files,
            "tables": self.tables,
        }

    @property
    def size_bytes(self) -> int:
        return sum(int(f["bytes"]) for f in self.files.values())

    @property
    def row_count(self) -> int:
        return sum(int(t["rows"]) for n, t in self.tables.items() if n != "alembic_version")


# --- archives ---------------------------------------------------------------------------


class _Member:
    """One file being written into the archive, hashed as it goes."""

    def __init__(self, stream: IO[bytes], progress: Progress) -> None:
        self._stream = stream
        self._progress = progress
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self._stream.write(data)
        self.sha256.update(data)
        self.bytes += len(data)
        self._progress.advance(len(data))


class ArchiveWriter:
    """Writes ``out`` as ``out.partial`` and renames it when complete (after an fsync), so
    a backup that was interrupted never looks like one that finished."""

    def __init__(self, out: Path, progress: Progress) -> None:
        if not out.parent.exists():
            private_dir(out.parent)
        self.out = out
        self.partial = private_file(out.with_name(out.name + ".partial"))
        self.progress = progress
        self.files: dict[str, dict[str, Any]] = {}
        self._zip = zipfile.ZipFile(self.partial, "w", zipfile.ZIP_STORED, allowZip64=True)

    @contextlib.contextmanager
    def member(self, name: str) -> Iterator[_Member]:
        with self._zip.open(name, "w", force_zip64=True) as stream:
            member = _Member(stream, self.progress)
            yield member
        self.files[name] = {"sha256": member.sha256.hexdigest(), "bytes": member.bytes}

    def finish(self, manifest: Manifest) -> None:
        manifest.files = self.files
        self._zip.writestr(MANIFEST, orjson.dumps(manifest.to_json(), option=orjson.OPT_INDENT_2))
        self._zip.close()
        with self.partial.open("rb") as done:
            os.fsync(done.fileno())
        os.replace(self.partial, self.out)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._zip.close()
        self.partial.unlink(missing_ok=True)


def read_manifest(archive: Path) -> tuple[Manifest, zipfile.ZipFile]:
    """Open ``archive`` and read its manifest; refuse what this release cannot restore.

    The caller closes the returned zip file.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except FileNotFoundError:
        raise BackupFailed(f"No such backup file: {archive}") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidArchive(f"{archive} is not a complete backup archive ({exc}).") from None
    try:
        raw = orjson.loads(zf.read(MANIFEST))
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise InvalidArchive(f"{archive} is not a Minibase backup (no backup manifest).")
        version = raw.get("formatVersion")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise UnsupportedFormat(
                f"The backup has format version {version}; this release reads up to "
                f"{FORMAT_VERSION}. Restore it with a newer Minibase.",
                {"formatVersion": version, "supported": FORMAT_VERSION},
            )
        revision = str(raw["schemaRevision"])
        if revision not in known_revisions():
            raise UnsupportedFormat(
                f"The backup's schema revision {revision} is unknown to this release (its "
                f"newest is {head_revision()}); it was made by a newer Minibase "
                f"({raw.get('minibaseVersion')}).",
                {"schemaRevision": revision, "supported": head_revision()},
            )
        manifest = Manifest(
            engine=str(raw["engine"]),
            schema_revision=revision,
            created_at=int(raw["createdAt"]),
            files=dict(raw["files"]),
            tables=dict(raw["tables"]),
            format_version=version,
            minibase_version=str(raw.get("minibaseVersion", "")),
        )
        if manifest.engine not in ("sqlite", "postgresql"):
            raise InvalidArchive(f"The backup names an unknown engine {manifest.engine!r}.")
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile, orjson.JSONDecodeError):
        zf.close()
        raise InvalidArchive(f"{archive} has no readable backup manifest.") from None
    except MinibaseError:
        zf.close()
        raise
    return manifest, zf


def _read_member(
    zf: zipfile.ZipFile, manifest: Manifest, name: str, progress: Progress
) -> Iterator[bytes]:
    """The chunks of one data file; :class:`InvalidArchive` when its checksum or size
    differs from the manifest (raised after the last chunk)."""
    expected = manifest.files.get(name)
    if expected is None:
        raise InvalidArchive(f"The backup manifest does not list {name}.")
    digest = hashlib.sha256()
    size = 0
    try:
        with zf.open(name) as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                progress.advance(len(chunk))
                yield chunk
    except (KeyError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise InvalidArchive(f"The backup's {name} is missing or damaged ({exc}).") from None
    if size != expected["bytes"] or digest.hexdigest() != expected["sha256"]:
        raise InvalidArchive(f"The backup's {name} does not match its checksum.")


def check_archive(zf: zipfile.ZipFile, manifest: Manifest, progress: Progress) -> None:
    """Read every data file and compare it with the manifest's checksums."""
    progress.start("checking", manifest.size_bytes)
    for name in manifest.files:
        for _ in _read_member(zf, manifest, name, progress):
            pass
    unexpected = set(zf.namelist()) - set(manifest.files) - {MANIFEST}
    if unexpected:
        raise InvalidArchive(f"The backup holds files its manifest does not list: {unexpected}")


# --- SQLite -----------------------------------------------------------------------------


def sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.database_url).database
    if not database:
        raise BackupFailed("The SQLite URL names no database file.")
    return Path(database)


def _sqlite_tables(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    names = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).fetchall()
    for (name,) in names:
        quoted = '"' + name.replace('"', '""') + '"'
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({quoted})")]
        (rows,) = conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()  # noqa: S608
        tables[name] = {"rows": rows, "columns": columns}
    return tables


def backup_sqlite(settings: Settings, out: Path, progress: Progress) -> Manifest:
    source_path = sqlite_path(settings)
    if not source_path.exists():
        raise BackupFailed(f"There is no database at {source_path} to back up.")
    writer = ArchiveWriter(out, progress)
    copy = out.with_name(f".{out.name}.{secrets.token_hex(4)}.db")
    try:
        progress.start("snapshot", None)
        source = sqlite3.connect(source_path, timeout=30)
        try:
            target = sqlite3.connect(copy)
            try:
                # One step: the whole copy is one read transaction, a consistent snapshot
                # that writers (WAL) do not disturb and that never restarts.
                source.backup(target)
                revision = target.execute("SELECT version_num FROM alembic_version").fetchone()
                tables = _sqlite_tables(target)
            finally:
                target.close()
        finally:
            source.close()
        progress.start("archive", copy.stat().st_size)
        with writer.member(SQLITE_FILE) as member, copy.open("rb") as data:
            while chunk := data.read(CHUNK):
                member.write(chunk)
        manifest = Manifest("sqlite", str(revision[0]), now_ms(), tables=tables)
        writer.finish(manifest)
        return manifest
    except BaseException:
        writer.abort()
        raise
    finally:
        copy.unlink(missing_ok=True)


def _require_empty_sqlite(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + "-wal")):
        if candidate.exists() and candidate.stat().st_size > 0:
            raise Conflict(
                f"{path.parent} already holds a database: restore only into an empty data "
                "directory."
            )


def restore_sqlite(
    zf: zipfile.ZipFile, manifest: Manifest, settings: Settings, progress: Progress
) -> None:
    target = sqlite_path(settings)
    _require_empty_sqlite(target)
    private_dir(target.parent)
    partial = target.with_name(f".{target.name}.restoring")
    progress.start("restore", manifest.size_bytes)
    try:
        with private_file(partial).open("wb") as out:
            for chunk in _read_member(zf, manifest, SQLITE_FILE, progress):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        _require_empty_sqlite(target)
        for stale in (target, target.with_name(target.name + "-shm")):
            stale.unlink(missing_ok=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def sqlite_integrity(settings: Settings) -> str:
    conn = sqlite3.connect(sqlite_path(settings))
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


# --- PostgreSQL -------------------------------------------------------------------------

_PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def postgres_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _connect(url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(postgres_dsn(url), timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BackupFailed(f"Cannot reach the database: {exc}") from None


def _rls_refusal(exc: asyncpg.PostgresError) -> BackupFailed:
    return BackupFailed(
        "The database refused to copy every row "
        f"({exc}); back up and restore as a role that bypasses row-level security "
        "(a superuser or a role with BYPASSRLS), as pg_dump needs."
    )


async def _pg_tables(conn: asyncpg.Connection) -> dict[str, list[str]]:
    rows = await conn.fetch(
        "SELECT c.table_name, array_agg(c.column_name::text ORDER BY c.ordinal_position) "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
        "GROUP BY c.table_name ORDER BY c.table_name"
    )
    return {str(r[0]): list(r[1]) for r in rows}


async def backup_postgres(settings: Settings, out: Path, progress: Progress) -> Manifest:
    conn = await _connect(settings.database_url)
    writer = ArchiveWriter(out, progress)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute("SET LOCAL row_security = off")
            revision = await conn.fetchval("SELECT version_num FROM alembic_version")
            progress.start(
                "archive", await conn.fetchval("SELECT pg_database_size(current_database())")
            )
            tables: dict[str, dict[str, Any]] = {}
            for name, columns in (await _pg_tables(conn)).items():
                with writer.member(f"tables/{name}.copy") as member:

                    async def sink(data: bytes, member: _Member = member) -> None:
                        member.write(data)

                    status = await conn.copy_from_table(
                        name, output=sink, columns=columns, format="binary"
                    )
                tables[name] = {"rows": int(status.rsplit(" ", 1)[-1]), "columns": columns}
        manifest = Manifest("postgresql", str(revision), now_ms(), tables=tables)
        writer.finish(manifest)
        return manifest
    except asyncpg.InsufficientPrivilegeError as exc:
        writer.abort()
        raise _rls_refusal(exc) from None
    except BaseException:
        writer.abort()
        raise
    finally:
        await conn.close()


def _restore_order(names: list[str]) -> list[str]:
    """Parents before children (foreign keys); tables the code does not know last."""
    known = [t.name for t in metadata.sorted_tables]
    return sorted(names, key=lambda n: (known.index(n) if n in known else len(known), n))


async def _require_empty_postgres(conn: asyncpg.Connection) -> None:
    count = await conn.fetchval(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    )
    if count:
        raise Conflict(
            "The target database already holds tables: restore only into an empty database."
        )


async def restore_postgres(
    zf: zipfile.ZipFile, manifest: Manifest, settings: Settings, progress: Progress
) -> None:
    conn = await _connect(settings.database_url)
    try:
        await _require_empty_postgres(conn)
    finally:
        await conn.close()
    # The schema the backup was taken with (tables, row-level security, roles, grants),
    # then its rows, then whatever migrations came after it.
    await migrate(settings, manifest.schema_revision)
    conn = await _connect(settings.database_url)
    progress.start("restore", manifest.size_bytes)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL row_security = off")
            for name in _restore_order(list(manifest.tables)):
                if name == "alembic_version":
                    continue
                if not _PLAIN_NAME.match(name):
                    raise InvalidArchive(f"The backup names a table {name!r}.")
                info = manifest.tables[name]

                async def chunks(name: str = name) -> AsyncIterator[bytes]:
                    for chunk in _read_member(zf, manifest, f"tables/{name}.copy", progress):
                        yield chunk

                status = await conn.copy_to_table(
                    name, source=chunks(), columns=info["columns"], format="binary"
                )
                if int(status.rsplit(" ", 1)[-1]) != int(info["rows"]):
                    raise InvalidArchive(f"The backup's {name} does not hold the rows it lists.")
    except asyncpg.InsufficientPrivilegeError as exc:
        raise _rls_refusal(exc) from None
    finally:
        await conn.close()


# --- both -------------------------------------------------------------------------------


def backup_engine(settings: Settings) -> str:
    return "sqlite" if settings.is_sqlite else "postgresql"


async def take_backup(settings: Settings, out: Path, progress: Progress) -> Manifest:
    """Back up the deployment named by ``settings`` into ``out``."""
    if settings.is_sqlite:
        return backup_sqlite(settings, out, progress)
    return await backup_postgres(settings, out, progress)


async def restore(
    zf: zipfile.ZipFile, manifest: Manifest, settings: Settings, progress: Progress
) -> None:
    """Restore a checked archive into the empty target of ``settings``, then bring it to
    the newest schema."""
    if manifest.engine != backup_engine(settings):
        raise Conflict(
            f"This is a {manifest.engine} backup and the target is {backup_engine(settings)}: "
            "restore it into the same engine (to move between engines, export and import "
            "organizations)."
        )
    if manifest.engine == "sqlite":
        restore_sqlite(zf, manifest, settings, progress)
    else:
        await restore_postgres(zf, manifest, settings, progress)
    await migrate(settings)


async def drop_shredded_keys(settings: Settings) -> list[str]:
    """Delete the data keys of orgs on the shred list of ``settings`` from its database
    (after a restore: the backup may predate their deletion); the orgs dropped."""
    shredded = sorted(read_shred_list(shred_list_path(settings)))
    if not shredded:
        return []
    if settings.is_sqlite:
        conn = sqlite3.connect(sqlite_path(settings))
        try:
            with conn:
                marks = ",".join("?" * len(shredded))
                found = [
                    r[0]
                    for r in conn.execute(
                        f"SELECT owner_org FROM org_data_keys WHERE owner_org IN ({marks})",  # noqa: S608
                        shredded,
                    )
                ]
                conn.execute(
                    f"DELETE FROM org_data_keys WHERE owner_org IN ({marks})",  # noqa: S608
                    shredded,
                )
            return found
        finally:
            conn.close()
    pg = await _connect(settings.database_url)
    try:
        rows = await pg.fetch(
            "DELETE FROM org_data_keys WHERE owner_org = ANY($1::text[]) RETURNING owner_org",
            shredded,
        )
        return [r[0] for r in rows]
    finally:
        await pg.close()


async def count_rows(settings: Settings, tables: list[str]) -> dict[str, int]:
    """Rows per table of the deployment of ``settings`` (every row, past row-level security)."""
    for name in tables:
        if not _PLAIN_NAME.match(name):
            raise InvalidArchive(f"The backup names a table {name!r}.")
    if settings.is_sqlite:
        conn = sqlite3.connect(sqlite_path(settings))
        try:
            return {
                name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # noqa: S608
                for name in tables
            }
        finally:
            conn.close()
    pg = await _connect(settings.database_url)
    try:
        async with pg.transaction(isolation="repeatable_read", readonly=True):
            await pg.execute("SET LOCAL row_security = off")
            return {n: await pg.fetchval(f'SELECT count(*) FROM "{n}"') for n in tables}  # noqa: S608
    finally:
        await pg.close()


async def organization_ids(settings: Settings) -> list[str]:
    if settings.is_sqlite:
        conn = sqlite3.connect(sqlite_path(settings))
        try:
            return [r[0] for r in conn.execute("SELECT id FROM organizations ORDER BY id")]
        finally:
            conn.close()
    pg = await _connect(settings.database_url)
    try:
        async with pg.transaction(readonly=True):
            await pg.execute("SET LOCAL row_security = off")
            return [r[0] for r in await pg.fetch("SELECT id FROM organizations ORDER BY id")]
    finally:
        await pg.close()


@asynccontextmanager
async def scratch_target(settings: Settings, engine: str, near: Path) -> AsyncIterator[Settings]:
    """Settings of an empty, throw-away target of ``engine``: a SQLite data dir in a
    temporary directory beside ``near``, or a new database on the PostgreSQL server of
    ``settings``; removed afterwards."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix=".minibase-verify-", dir=near) as tmp:
            yield Settings(data_dir=Path(tmp), database_url="")
        return
    if not settings.is_postgres:
        raise BackupFailed(
            "Verifying a PostgreSQL backup restores it into a scratch database: set "
            "MINIBASE_DATABASE_URL to a PostgreSQL server where this user may create one."
        )
    url = make_url(settings.database_url)
    name = f"{(url.database or 'minibase')[:40]}_verify_{secrets.token_hex(4)}"
    conn = await _connect(settings.database_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.PostgresError as exc:
        raise BackupFailed(f"Cannot create the scratch database {name}: {exc}") from None
    finally:
        await conn.close()
    try:
        yield settings.model_copy(
            update={
                "database_url": url.set(database=name).render_as_string(hide_password=False),
                "app_database_url": "",
            }
        )
    finally:
        conn = await _connect(settings.database_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
