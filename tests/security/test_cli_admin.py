"""Issue 12, items 12 and 13: ``minibase admin`` on a real database, and every CLI failure
is one line (no traceback) with a meaningful exit status."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minibase.config import Settings
from minibase.domain.plans import Plan
from minibase.services import instance_admins
from minibase.store.database import Database
from minibase.store.unit_of_work import Store
from tests.helpers import insert_org

pytestmark = pytest.mark.slow


def minibase(
    settings: Settings, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINIBASE_DATA_DIR": str(settings.data_dir)}
    if settings.is_postgres:
        env["MINIBASE_DATABASE_URL"] = settings.database_url
    return subprocess.run(
        [sys.executable, "-m", "minibase", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


async def _org_and_plan(settings: Settings, org_id: str | None = None) -> tuple[str, str]:
    database = Database(settings)
    try:
        store = Store(database)
        org_id = org_id or await insert_org(store)
        page = await instance_admins.list_orgs(store, 500, None)
        plan = next(o["billing"]["plan"] for o in page["items"] if o["id"] == org_id)
        return org_id, plan
    finally:
        await database.close()


def test_admin_commands(settings: Settings) -> None:
    assert minibase(settings, "admin", "grant", "Root@Example.com").returncode == 0
    again = minibase(settings, "admin", "grant", "root@example.com")
    assert again.returncode == 0 and "already was" in again.stdout
    listed = minibase(settings, "admin", "list")
    assert listed.stdout.splitlines() == ["root@example.com\tgrant"]
    scripted = minibase(settings, "admin", "list", "--json")
    (row,) = json.loads(scripted.stdout)["items"]
    assert (row["email"], row["source"]) == ("root@example.com", "grant")
    assert row["grantedBy"].startswith("cli:")
    again_json = minibase(settings, "admin", "grant", "root@example.com", "--json")
    assert json.loads(again_json.stdout) == {"email": "root@example.com", "granted": False}
    bad = minibase(settings, "admin", "grant", "in\u200bvisible@example.com")
    assert bad.returncode == 1 and one_line(bad).startswith("minibase: error:")
    assert minibase(settings, "admin", "revoke", "ROOT@example.com").returncode == 0
    missing = minibase(settings, "admin", "revoke", "root@example.com")
    assert missing.returncode == 1 and "no grant" in one_line(missing)

    org_id, plan = asyncio.run(_org_and_plan(settings))
    assert plan == "free"
    changed = minibase(settings, "admin", "set-plan", org_id, "enterprise", "--json")
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout)["billing"]["plan"] == "enterprise"
    assert asyncio.run(_org_and_plan(settings, org_id))[1] == Plan.ENTERPRISE.value
    nope = minibase(settings, "admin", "set-plan", "org_nope", "pro")
    assert nope.returncode == 2 and "no such organization" in one_line(nope).lower()


def test_cli_failures_are_one_line(settings: Settings, tmp_path: Path) -> None:
    unknown = minibase(settings, "audit", "verify", "--org", "org_nope")
    assert unknown.returncode == 2
    assert "no such organization" in one_line(unknown).lower()
    assert "intact" not in unknown.stdout
    if settings.is_sqlite:
        # Run where there is no data dir: one line naming the missing database.
        elsewhere = Settings(data_dir=tmp_path / "nothing-here")
        result = minibase(elsewhere, "audit", "verify", "--org", "org_x", cwd=tmp_path)
        assert result.returncode == 1
        assert "no database at" in one_line(result)
        result = minibase(elsewhere, "admin", "list", cwd=tmp_path)
        assert result.returncode == 1 and "no database at" in one_line(result)
    else:
        broken = settings.model_copy(
            update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/nope"}
        )
        result = minibase(broken, "admin", "list")
        assert result.returncode == 1 and one_line(result).startswith("minibase: error:")


def test_every_command_fails_in_one_line(settings: Settings, tmp_path: Path) -> None:
    """Each command given something wrong: one line on stderr, exit 2 when what was
    named does not exist or the command line itself is wrong, 1 otherwise."""
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip archive")
    cases: list[tuple[tuple[str, ...], int, str]] = [
        (("export", "--org", "org_nope", "--out", str(tmp_path / "x.zip")), 2, "org_nope"),
        (("import", str(tmp_path / "nope.zip"), "--admin", "a@example.com"), 2, "nope.zip"),
        (("import", str(garbage), "--admin", "nobody@example.com"), 1, "nobody@example.com"),
        (("backup", "verify", str(garbage)), 1, "garbage.zip"),
        (("backup", "verify", str(tmp_path / "nope.zip")), 1, "nope.zip"),
        (("restore", str(garbage)), 1, "garbage.zip"),
        (("admin", "set-plan", "org_x", "platinum"), 2, "platinum"),
        (("audit",), 2, "audit"),
        (("serve", "--port", "not-a-port"), 2, "not-a-port"),
        (("no-such-command",), 2, "no-such-command"),
    ]
    for args, status, named in cases:
        result = minibase(settings, *args)
        line = one_line(result)
        assert result.returncode == status, (args, result.returncode, line)
        assert "error:" in line and named in line, (args, line)
    if settings.is_sqlite:
        elsewhere = Settings(data_dir=tmp_path / "nothing-here")
        for args in (
            ("export", "--org", "org_x", "--out", str(tmp_path / "y.zip")),
            ("import", str(garbage), "--admin", "a@example.com"),
            ("backup",),
        ):
            result = minibase(elsewhere, *args, cwd=tmp_path)
            assert result.returncode == 1, args
            assert "no database at" in one_line(result), args
        # A data dir that cannot be one (a file is in the way): the same line as serve's.
        blocked = tmp_path / "a-file"
        blocked.write_text("")
        for command in (("migrate",), ("serve", "--port", "0")):
            result = minibase(Settings(data_dir=blocked / "data"), *command)
            assert result.returncode == 1, (command, result.stderr)
            line = one_line(result)
            assert line.startswith("minibase: error: data directory") and "a-file" in line
