"""The operator's CLI on real databases (SQLite and PostgreSQL), run as a subprocess:
``admin create-user | create-org | add-member``, ``flows export | import``,
``runs list | show | cancel``; people get lines, scripts get ``--json``, and every
failure is one line with a non-zero exit status."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from minibase.config import Settings
from minibase.domain.principal import SYSTEM
from minibase.engine.registry import NodeRegistry
from minibase.services import members, runs
from minibase.store.database import Database
from minibase.store.unit_of_work import Store

pytestmark = pytest.mark.slow

CHAIN = [
    {"id": "x", "type": "constant", "position": {"x": 0, "y": 0}, "data": {"value": {"x": 4}}},
    {"id": "double", "type": "math", "position": {"x": 1, "y": 0}, "data": {"expression": "x * 2"}},
]


def minibase(
    settings: Settings, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "MINIBASE_DATA_DIR": str(settings.data_dir), **(env or {})}
    if settings.is_postgres:
        full["MINIBASE_DATABASE_URL"] = settings.database_url
    return subprocess.run(
        [sys.executable, "-m", "minibase", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full,
        input=stdin or "",
    )


def ok_json(settings: Settings, *args: str, **kw: Any) -> Any:
    result = minibase(settings, *args, "--json", **kw)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def fails(settings: Settings, *args: str, status: int = 1, **kw: Any) -> str:
    result = minibase(settings, *args, **kw)
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minibase: error: "), result.stderr
    return lines[0]


def in_db(settings: Settings, work: Any) -> Any:
    async def run() -> Any:
        database = Database(settings)
        try:
            return await work(Store(database))
        finally:
            await database.close()

    return asyncio.run(run())


def test_people_orgs_and_members(settings: Settings) -> None:
    user = ok_json(
        settings,
        "admin",
        "create-user",
        "Ada@Example.com",
        "--name",
        "Ada",
        stdin="correct horse battery\n",
    )
    assert (user["email"], user["name"]) == ("ada@example.com", "Ada")
    human = minibase(
        settings,
        "admin",
        "create-user",
        "bob@example.com",
        "--password-env",
        "BOB_PW",
        env={"BOB_PW": "bob password 12"},
    )
    assert human.returncode == 0 and "created bob@example.com" in human.stdout
    assert "Conflict" not in fails(
        settings, "admin", "create-user", "ada@example.com", stdin="another password\n"
    )
    assert "8 to" in fails(settings, "admin", "create-user", "c@example.com", stdin="short\n")

    org = ok_json(
        settings, "admin", "create-org", "Acme", "--admin", "ada@example.com", "--plan", "pro"
    )
    assert org["name"] == "Acme" and org["billing"]["plan"] == "pro"
    member = ok_json(
        settings, "admin", "add-member", org["id"], "bob@example.com", "--role", "viewer"
    )
    assert (member["user"]["email"], member["role"]) == ("bob@example.com", "viewer")
    assert "already a member" in fails(
        settings, "admin", "add-member", org["id"], "bob@example.com"
    )
    fails(settings, "admin", "add-member", org["id"], "nobody@example.com", status=2)
    fails(settings, "admin", "add-member", "org_missing", "bob@example.com", status=2)
    fails(settings, "admin", "create-org", "X", "--admin", "nobody@example.com", status=2)

    async def roles(store: Store) -> dict[str, str]:
        page = await members.list_members(store, org["id"], SYSTEM, limit=50, cursor=None)
        return {m["user"]["email"]: m["role"] for m in page["items"]}

    assert in_db(settings, roles) == {"ada@example.com": "admin", "bob@example.com": "viewer"}


def test_flows_round_trip_and_runs(settings: Settings, tmp_path: Path) -> None:
    ok_json(settings, "admin", "create-user", "ops@example.com", stdin="ops password 12\n")
    org = ok_json(settings, "admin", "create-org", "Ops", "--admin", "ops@example.com")
    source = tmp_path / "flow.json"
    source.write_text(
        json.dumps(
            {
                "name": "Math",
                "nodes": CHAIN,
                "edges": [{"id": "x-double", "source": "x", "target": "double"}],
            }
        )
    )
    created = ok_json(
        settings, "flows", "import", str(source), "--org", org["id"], "--as", "ops@example.com"
    )["created"]
    assert [f["name"] for f in created] == ["Math"]
    flow_id = created[0]["id"]

    exported = minibase(settings, "flows", "export", "--org", org["id"], flow_id)
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["format"] == "minibase-flows" and document["flows"][0]["nodes"] == CHAIN
    out = tmp_path / "export.json"
    assert ok_json(settings, "flows", "export", "--org", org["id"], flow_id, "--out", str(out))[
        "bytes"
    ] == len(out.read_bytes())
    # The export imports again, from stdin, under a new name.
    again = ok_json(
        settings,
        "flows",
        "import",
        "-",
        "--org",
        org["id"],
        "--name",
        "Copy",
        stdin=out.read_text(),
    )["created"]
    assert again[0]["name"] == "Copy" and again[0]["id"] != flow_id
    fails(settings, "flows", "export", "--org", org["id"], "flow_missing", status=2)
    assert "not JSON" in fails(settings, "flows", "import", "-", "--org", org["id"], stdin="{nope")

    async def queue(store: Store) -> str:
        async with store.tenant(org["id"], SYSTEM, write=True) as uow:
            run, _ = await runs.start_run(
                uow, NodeRegistry.default(), flow_id, runs.parse_request({})
            )
        return str(run["id"])

    run_id = in_db(settings, queue)  # queued: no worker runs here
    listed = ok_json(settings, "runs", "list", "--org", org["id"])["items"]
    assert [(r["id"], r["status"]) for r in listed] == [(run_id, "queued")]
    people = minibase(settings, "runs", "list", "--org", org["id"], "--flow", flow_id)
    assert run_id in people.stdout and "queued" in people.stdout
    shown = minibase(settings, "runs", "show", "--org", org["id"], run_id)
    assert shown.returncode == 0 and "double" in shown.stdout
    canceled = ok_json(settings, "runs", "cancel", "--org", org["id"], run_id)
    assert canceled["status"] == "canceled"
    assert "already finished" in fails(settings, "runs", "cancel", "--org", org["id"], run_id)
    fails(settings, "runs", "show", "--org", org["id"], "run_missing", status=2)
    fails(settings, "runs", "list", "--org", "org_missing", status=2)
    assert ok_json(settings, "runs", "show", "--org", org["id"], run_id)["status"] == "canceled"
