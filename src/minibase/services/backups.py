"""Backups as operators use them: take, verify by restoring, restore, keep the last N.

A backup is only as good as its restore, so :func:`verify` restores the archive into a
scratch target (a temporary SQLite data dir, or a temporary PostgreSQL database) and
checks there: SQLite's ``PRAGMA integrity_check``, the row count of every table against
the manifest, and the audit hash chain of every organization. Each backup in the backup
directory has a status file beside it (``minibase-<time>.json``: the manifest's summary
and the last verification), which ``GET /v1/admin/backups`` lists.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from minibase.config import Settings
from minibase.domain.principal import SYSTEM
from minibase.errors import MinibaseError
from minibase.ids import now_ms
from minibase.services.audit import verify_chain
from minibase.store import backup as engine
from minibase.store.backup import Manifest, Progress
from minibase.store.database import Database
from minibase.store.files import private_file
from minibase.store.unit_of_work import Store

ARCHIVE_PREFIX = "minibase-"
ARCHIVE_SUFFIX = ".zip"


@dataclass
class VerifyReport:
    ok: bool
    checked_at: int
    duration_ms: int
    problems: list[str] = field(default_factory=list)
    tables: int = 0
    rows: int = 0
    audit_chains: int = 0
    audit_events: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checkedAt": self.checked_at,
            "durationMs": self.duration_ms,
            "problems": self.problems,
            "tables": self.tables,
            "rows": self.rows,
            "auditChains": self.audit_chains,
            "auditEvents": self.audit_events,
        }


def archive_name(at_ms: int) -> str:
    """``minibase-20261205T073000123Z.zip``: names sort by time."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(at_ms / 1000))
    return f"{ARCHIVE_PREFIX}{stamp}{at_ms % 1000:03d}Z{ARCHIVE_SUFFIX}"


def status_path(archive: Path) -> Path:
    return archive.with_suffix(".json")


def write_status(archive: Path, status: dict[str, Any]) -> None:
    path = status_path(archive)
    partial = path.with_name(path.name + ".partial")
    private_file(partial).write_bytes(orjson.dumps(status, option=orjson.OPT_INDENT_2))
    os.replace(partial, path)


def read_status(archive: Path) -> dict[str, Any] | None:
    try:
        value = orjson.loads(status_path(archive).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


async def take(settings: Settings, out: Path, progress: Progress) -> Manifest:
    """Back up the deployment into ``out`` and record its status beside it."""
    started = now_ms()
    manifest = await engine.take_backup(settings, out, progress)
    write_status(
        out,
        {
            "name": out.name,
            "engine": manifest.engine,
            "schemaRevision": manifest.schema_revision,
            "minibaseVersion": manifest.minibase_version,
            "createdAt": manifest.created_at,
            "durationMs": now_ms() - started,
            "bytes": os.stat(out).st_size,
            "tables": len(manifest.tables),
            "rows": manifest.row_count,
            "verify": None,
        },
    )
    return manifest


async def _audit_chains(target: Settings, report: VerifyReport) -> None:
    org_ids = await engine.organization_ids(target)
    database = Database(target)
    try:
        store = Store(database)
        for org_id in org_ids:
            async with store.tenant(org_id, SYSTEM) as uow:
                result = await verify_chain(uow)
            report.audit_chains += 1
            report.audit_events += int(result["checked"])
            if not result["ok"]:
                report.problems.append(
                    f"audit chain of {org_id} is broken at seq {result['firstBadSeq']}"
                )
    finally:
        await database.close()


async def verify(settings: Settings, archive: Path, progress: Progress) -> VerifyReport:
    """Restore ``archive`` into a scratch target and check it there.

    An archive that cannot be read at all raises (:class:`InvalidArchive`,
    :class:`UnsupportedFormat`); everything found wrong after that is in the report.
    """
    started = time.monotonic()
    report = VerifyReport(ok=False, checked_at=now_ms(), duration_ms=0)
    manifest, zf = engine.read_manifest(archive)
    try:
        engine.check_archive(zf, manifest, progress)
        report.tables = len(manifest.tables)
        async with engine.scratch_target(settings, manifest.engine, archive.parent) as scratch:
            await engine.restore(zf, manifest, scratch, progress)
            if manifest.engine == "sqlite":
                integrity = engine.sqlite_integrity(scratch)
                if integrity != "ok":
                    report.problems.append(f"integrity check: {integrity}")
            counted = await engine.count_rows(scratch, list(manifest.tables))
            for name, info in manifest.tables.items():
                if name != "alembic_version" and counted[name] != info["rows"]:
                    report.problems.append(
                        f"{name}: {counted[name]} rows restored, {info['rows']} backed up"
                    )
            report.rows = sum(v for k, v in counted.items() if k != "alembic_version")
            await _audit_chains(scratch, report)
    finally:
        zf.close()
    report.ok = not report.problems
    report.duration_ms = round((time.monotonic() - started) * 1000)
    status = read_status(archive)
    if status is not None:
        write_status(archive, {**status, "verify": report.to_json()})
    return report


async def restore(settings: Settings, archive: Path, progress: Progress) -> Manifest:
    """Restore ``archive`` into the empty target of ``settings``: every checksum is
    checked before anything is written."""
    manifest, zf = engine.read_manifest(archive)
    try:
        engine.check_archive(zf, manifest, progress)
        await engine.restore(zf, manifest, settings, progress)
    finally:
        zf.close()
    # Crypto-shredding holds across restores: a backup taken before an org was deleted
    # holds its wrapped data key; the shred list (outside the database) says to drop it.
    await engine.drop_shredded_keys(settings)
    return manifest


def archives(directory: Path) -> list[Path]:
    """The backups in ``directory``, newest first."""
    if not directory.is_dir():
        return []
    found = [
        p
        for p in directory.iterdir()
        if p.name.startswith(ARCHIVE_PREFIX) and p.name.endswith(ARCHIVE_SUFFIX)
    ]
    return sorted(found, key=lambda p: p.name, reverse=True)


def prune(directory: Path, keep: int) -> list[str]:
    """Delete all but the ``keep`` newest backups (and their status files)."""
    removed = []
    for old in archives(directory)[keep:]:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
        status_path(old).unlink(missing_ok=True)
        removed.append(old.name)
    return removed


def list_statuses(directory: Path, *, limit: int, before: str | None) -> list[dict[str, Any]]:
    """Status of the newest backups (and failed attempts), newest first."""
    rows: list[dict[str, Any]] = []
    names = sorted(
        {p.stem for p in archives(directory)}
        | {
            p.stem
            for p in directory.glob(f"{ARCHIVE_PREFIX}*.json")
            if not p.name.endswith(".partial")
        }
        if directory.is_dir()
        else set(),
        reverse=True,
    )
    for stem in names:
        if before is not None and stem >= before:
            continue
        status = read_status(directory / f"{stem}{ARCHIVE_SUFFIX}")
        if status is None:
            status = {"name": f"{stem}{ARCHIVE_SUFFIX}", "verify": None}
        status["present"] = (directory / f"{stem}{ARCHIVE_SUFFIX}").exists()
        status["id"] = stem
        rows.append(status)
        if len(rows) == limit:
            break
    return rows


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, MinibaseError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
