"""Backups: taken while the app writes, verified by a restore, restored only when sound."""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from minibase.config import Settings
from minibase.domain.plans import PLAN_DEFAULTS, Plan
from minibase.errors import Conflict, InvalidArchive, UnsupportedFormat
from minibase.services import backups
from minibase.store.backup import Progress
from tests.care.data_helpers import all_rows, empty_target, fill
from tests.services import PostgresTemplate

QUIET = Progress()


@pytest.fixture
def target(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """An empty target of the same engine."""
    restored = empty_target(settings, tmp_path, "restored")
    yield restored
    if restored.is_postgres:
        PostgresTemplate.drop(restored.database_url.rsplit("/", 1)[-1])


async def test_backup_verify_restore_every_row(
    client: httpx.AsyncClient, settings: Settings, target: Settings, tmp_path: Path
) -> None:
    await fill(client)
    await fill(client, flows=1)
    archive = tmp_path / "b" / backups.archive_name(1)
    manifest = await backups.take(settings, archive, QUIET)
    assert archive.exists() and not archive.with_name(archive.name + ".partial").exists()
    assert manifest.row_count > 20

    report = await backups.verify(settings, archive, QUIET)
    assert report.ok, report.problems
    assert report.audit_chains == 2 and report.audit_events > 10
    status = backups.read_status(archive)
    assert status is not None and status["verify"]["ok"] is True

    await backups.restore(target, archive, QUIET)
    assert await all_rows(target) == await all_rows(settings)


async def test_restored_deployment_serves(
    client: httpx.AsyncClient, settings: Settings, target: Settings, tmp_path: Path
) -> None:
    from minibase.app import create_app

    org = await fill(client)
    archive = tmp_path / "b.zip"
    await backups.take(settings, archive, QUIET)
    await backups.restore(target, archive, QUIET)
    app = create_app(target, run_migrations=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as restored:
            listed = await restored.get(org.flows_url, headers=org.admin.headers)
            assert listed.status_code == 200
            assert len(listed.json()["items"]) == 3
            audit = await restored.get(f"/v1/orgs/{org.id}/audit/verify", headers=org.admin.headers)
            assert audit.status_code == 200 and audit.json()["ok"] is True


async def test_backup_during_writes_keeps_every_acknowledged_write(
    client: httpx.AsyncClient, settings: Settings, target: Settings, tmp_path: Path
) -> None:
    org = await fill(client, flows=1)
    acknowledged: list[str] = []
    stop, under_way = asyncio.Event(), asyncio.Event()

    # A new org is on the free plan: the writer stops short of its flow quota (one flow is
    # fill's), so that a backup outlasting 49 writes ends them instead of a quota_exceeded.
    room = PLAN_DEFAULTS[Plan.FREE].max_flows
    assert room is not None

    async def writer() -> None:
        while not stop.is_set() and len(acknowledged) < room - 1:
            acknowledged.append((await org.create_flow(f"w{len(acknowledged)}"))["id"])
            if len(acknowledged) >= 5:
                under_way.set()

    task = asyncio.create_task(writer())
    await asyncio.wait_for(under_way.wait(), 30)  # the load runs before the backup starts
    before = list(acknowledged)
    archive = tmp_path / "b.zip"
    if settings.is_sqlite:  # the SQLite copy blocks: take it beside the event loop
        await asyncio.to_thread(asyncio.run, backups.take(settings, archive, QUIET))
    else:
        await backups.take(settings, archive, QUIET)
    stop.set()
    await task
    assert len(acknowledged) > len(before)  # writes went on while the backup ran

    report = await backups.verify(settings, archive, QUIET)
    assert report.ok, report.problems  # one snapshot: every audit chain still links up
    await backups.restore(target, archive, QUIET)
    flows = {row[1] for row in (await all_rows(target))["flows"]}
    assert set(before) <= flows
    # whatever the snapshot holds is a prefix of the acknowledged writes
    assert set(acknowledged[: len(flows & set(acknowledged))]) == flows & set(acknowledged)


async def test_bad_archives_are_refused_before_anything_is_written(
    client: httpx.AsyncClient, settings: Settings, target: Settings, tmp_path: Path
) -> None:
    await fill(client, flows=1)
    archive = tmp_path / "good.zip"
    manifest = await backups.take(settings, archive, QUIET)
    data_file = next(iter(manifest.files))

    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == data_file:
                middle = len(content) // 2
                content = content[:middle] + bytes([content[middle] ^ 1]) + content[middle + 1 :]
            dst.writestr(item, content)

    newer = tmp_path / "newer.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(newer, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "manifest.json":
                content = orjson.dumps({**orjson.loads(content), "formatVersion": 99})
            dst.writestr(item, content)

    for bad, error in ((truncated, InvalidArchive), (tampered, InvalidArchive)):
        with pytest.raises(error):
            await backups.restore(target, bad, QUIET)
        with pytest.raises(error):
            await backups.verify(settings, bad, QUIET)
    with pytest.raises(UnsupportedFormat, match="format version 99"):
        await backups.restore(target, newer, QUIET)
    if target.is_sqlite:
        assert not (target.data_dir / "minibase.db").exists()
    else:
        assert await all_rows(target) == {}

    await backups.restore(target, archive, QUIET)  # the good one goes in
    with pytest.raises(Conflict, match="empty"):
        await backups.restore(target, archive, QUIET)
    with pytest.raises(Conflict, match="empty"):
        await backups.restore(settings, archive, QUIET)
