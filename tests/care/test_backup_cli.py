"""``minibase backup`` / ``backup verify`` / ``restore`` as commands, beside a running server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from minibase.config import Settings
from tests.care.data_helpers import empty_target
from tests.helpers import PASSWORD
from tests.process import ServerProcess
from tests.services import PostgresTemplate

pytestmark = pytest.mark.slow


def _env(settings: Settings) -> dict[str, str]:
    env = {"MINIBASE_BACKUP_DIR": str(settings.data_dir.parent / "backups")}
    if settings.is_postgres:
        env["MINIBASE_DATABASE_URL"] = settings.database_url
    return env


def _minibase(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "minibase", *args, "--data-dir", str(settings.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **_env(settings)},
    )


@pytest.fixture
def target(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    restored = empty_target(settings, tmp_path, "cli")
    yield restored
    if restored.is_postgres:
        PostgresTemplate.drop(restored.database_url.rsplit("/", 1)[-1])


def test_backup_while_serving_then_restore_and_serve(settings: Settings, target: Settings) -> None:
    server = ServerProcess(settings.data_dir, env=_env(settings))
    try:
        server.wait_ready()
        signup = httpx.post(
            f"{server.base_url}/v1/auth/signup",
            json={"email": "ops@example.com", "password": PASSWORD},
        )
        token = signup.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        org = httpx.post(f"{server.base_url}/v1/orgs", json={"name": "O"}, headers=headers)
        org_id = org.json()["id"]
        flow = httpx.post(
            f"{server.base_url}/v1/orgs/{org_id}/flows",
            json={"name": "kept", "nodes": [], "edges": []},
            headers=headers,
        )
        assert flow.status_code == 201
        backup = _minibase(settings, "backup", "--verify")
        assert backup.returncode == 0, backup.stderr
    finally:
        assert server.stop() == 0
    assert "backup written to" in backup.stdout and "verified" in backup.stdout
    assert backup.stderr == ""  # not a terminal: no progress bar
    archive = Path(backup.stdout.split("backup written to ", 1)[1].split(" (", 1)[0])
    assert archive.parent == settings.data_dir.parent / "backups"

    verify = _minibase(settings, "backup", "verify", str(archive))
    assert verify.returncode == 0, verify.stderr
    assert "1 audit chains intact" in verify.stdout
    # Scripts get one JSON object instead of the sentence.
    scripted = _minibase(settings, "backup", "verify", str(archive), "--json")
    assert scripted.returncode == 0, scripted.stderr
    checked = json.loads(scripted.stdout)
    assert checked["out"] == str(archive) and checked["verify"]["ok"] is True
    assert checked["verify"]["auditChains"] == 1
    second = _minibase(settings, "backup", "--verify", "--json")
    assert second.returncode == 0, second.stderr
    taken = json.loads(second.stdout)
    assert Path(taken["out"]).is_file() and taken["bytes"] == Path(taken["out"]).stat().st_size
    assert taken["manifest"]["tables"]["flows"]["rows"] == 1 and taken["verify"]["ok"] is True

    refused = _minibase(settings, "restore", str(archive))
    assert refused.returncode == 1
    assert refused.stderr.startswith("minibase: error:") and "empty" in refused.stderr

    # The master key is kept apart from backups (docs/security.md): the operator brings it.
    target.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(settings.data_dir / "master.key", target.data_dir / "master.key")
    restore = _minibase(target, "restore", str(archive), "--json")
    assert restore.returncode == 0, restore.stderr
    restored = json.loads(restore.stdout)
    assert restored["restored"] == str(archive)
    assert restored["manifest"]["tables"]["flows"]["rows"] == 1
    server = ServerProcess(target.data_dir, env=_env(target))
    try:
        server.wait_ready()
        login = httpx.post(
            f"{server.base_url}/v1/auth/login",
            json={"email": "ops@example.com", "password": PASSWORD},
        )
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        flows = httpx.get(f"{server.base_url}/v1/orgs/{org_id}/flows", headers=headers)
        assert [f["name"] for f in flows.json()["items"]] == ["kept"]
    finally:
        assert server.stop() == 0


def test_unreadable_archive_is_one_line_error(settings: Settings, tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    for args in (("restore", str(junk)), ("backup", "verify", str(junk))):
        result = _minibase(settings, *args)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "not a complete backup archive" in lines[0]
