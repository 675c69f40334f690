"""Automatic backups: on ``MINIBASE_BACKUP_SCHEDULE`` (cron, UTC), each one verified.

Each run is ``minibase backup --out DIR/minibase-<time>.zip --verify`` in a child process,
so the copy's CPU and I/O never hold up the event loop, and the ``MINIBASE_BACKUP_KEEP``
newest archives are kept. Several instances that share the backup directory take one
backup per scheduled time: the first to create the run's status file (``O_EXCL``) runs it.
A run that fails leaves its status file with ``error`` set; ``GET /v1/admin/backups``
lists them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from croniter import croniter
from pydantic import SecretStr

from minibase.config import Settings
from minibase.ids import now_ms
from minibase.services import backups
from minibase.store.files import private_dir

log = logging.getLogger("minibase.backups")


def settings_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``MINIBASE_*`` variables a child process reads them from."""
    env: dict[str, str] = {}
    for name in Settings.model_fields:
        value: Any = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list | dict):
            value = orjson.dumps(value).decode()
        env[f"MINIBASE_{name.upper()}"] = str(value)
    return env


class BackupScheduler:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.directory = Path(settings.backup_dir)

    def next_run(self, after: float) -> float:
        """The next scheduled time (seconds since the epoch) after ``after``."""
        return float(croniter(self.settings.backup_schedule, after).get_next(float))

    async def run_forever(self) -> None:
        while True:
            at = self.next_run(time.time())
            await asyncio.sleep(max(0.0, at - time.time()))
            await self.run_once(int(at * 1000))

    async def run_once(self, at_ms: int) -> dict[str, Any] | None:
        """Take, verify and prune for the run scheduled at ``at_ms``; ``None`` when another
        instance has claimed it."""
        private_dir(self.directory)
        archive = self.directory / backups.archive_name(at_ms)
        claim = backups.status_path(archive)
        try:
            with claim.open("x") as claimed:
                claimed.write(orjson.dumps({"name": archive.name, "startedAt": now_ms()}).decode())
        except FileExistsError:
            return None
        error = await self._run_child(archive)
        status = backups.read_status(archive) or {"name": archive.name}
        if error is not None:
            status["error"] = error
            backups.write_status(archive, status)
            log.error("scheduled backup failed", extra={"backup": archive.name, "error": error})
        else:
            log.info("scheduled backup done", extra={"backup": archive.name})
        backups.prune(self.directory, self.settings.backup_keep)
        return status

    async def _run_child(self, archive: Path) -> str | None:
        """Run the backup and its verification; the error line, or ``None``."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "minibase",
            "backup",
            "--out",
            str(archive),
            "--verify",
            env={**os.environ, **settings_environment(self.settings)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await process.communicate()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        if process.returncode == 0:
            return None
        lines = (err or out).decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else f"backup exited with status {process.returncode}"
