"""Scheduled backups (verified, pruned, one per slot) and ``GET /v1/admin/backups``."""

from __future__ import annotations

import calendar
from pathlib import Path

import httpx
import pytest

from minibase.app import create_app
from minibase.config import Settings
from minibase.services import backups
from minibase.services.backup_schedule import BackupScheduler
from tests.care.data_helpers import fill
from tests.helpers import signup

pytestmark = pytest.mark.slow


def test_schedule_is_cron_in_utc(tmp_path: Path) -> None:
    scheduler = BackupScheduler(Settings(data_dir=tmp_path, backup_schedule="30 3 * * *"))
    after = calendar.timegm((2026, 12, 5, 7, 0, 0))
    assert scheduler.next_run(after) == calendar.timegm((2026, 12, 6, 3, 30, 0))
    with pytest.raises(ValueError, match="cron"):
        Settings(data_dir=tmp_path, backup_schedule="every night")


async def test_runs_are_verified_pruned_and_listed_for_instance_admins(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    await fill(client, flows=1)
    admin = await signup(client, "root@example.com")
    stranger = await signup(client)
    configured = settings.model_copy(
        update={
            "backup_dir": str(tmp_path / "backups"),
            "backup_schedule": "0 * * * *",
            "backup_keep": 2,
            "instance_admins": "someone@example.com, ROOT@example.com",
        }
    )
    scheduler = BackupScheduler(configured)
    for hour in range(3):
        status = await scheduler.run_once(1_800_000_000_000 + hour * 3_600_000)
        assert status is not None and "error" not in status, status
        assert status["verify"]["ok"] is True and status["verify"]["auditChains"] == 1
    # another instance sharing the directory finds the slot taken
    assert await scheduler.run_once(1_800_000_000_000 + 2 * 3_600_000) is None
    kept = backups.archives(Path(configured.backup_dir))
    assert len(kept) == 2  # MINIBASE_BACKUP_KEEP

    app = create_app(configured, run_migrations=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/v1/admin/backups", headers=stranger.headers)).status_code == 404
            assert (await c.get("/v1/admin/backups")).status_code == 401
            page = await c.get("/v1/admin/backups?limit=1", headers=admin.headers)
            assert page.status_code == 200, page.text
            body = page.json()
            assert [i["name"] for i in body["items"]] == [kept[0].name]
            assert body["items"][0]["verify"]["ok"] is True and body["items"][0]["present"]
            assert body["schedule"] == "0 * * * *" and body["keep"] == 2
            rest = await c.get(
                f"/v1/admin/backups?cursor={body['nextCursor']}", headers=admin.headers
            )
            assert [i["name"] for i in rest.json()["items"]] == [kept[1].name]
            assert rest.json()["nextCursor"] is None


async def test_a_failed_run_is_recorded(tmp_path: Path) -> None:
    nothing = Settings(data_dir=tmp_path / "no-database", backup_schedule="0 * * * *")
    status = await BackupScheduler(nothing).run_once(1_800_000_000_000)
    assert status is not None
    assert "no database" in status["error"]
    listed = backups.list_statuses(Path(nothing.backup_dir), limit=10, before=None)
    assert listed[0]["error"] == status["error"] and listed[0]["present"] is False
