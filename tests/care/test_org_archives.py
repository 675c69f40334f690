"""Organization export and import: streamed zip, sealed with a passphrase, across engines."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from minibase.app import create_app
from minibase.config import Settings
from minibase.services.org_export import exported_tables
from tests.care.data_helpers import fill, plain_rows
from tests.helpers import User, signup
from tests.services import (
    PostgresTemplate,
    SqliteTemplate,
    pg_url,
    skip_or_fail,
)

SENTINEL = "sentinel-3f9c1d"


@pytest.fixture
def other_settings(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    """A fresh, migrated deployment of the *other* engine."""
    if backend == "postgres":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        template.new_database(tmp_path / "other")
        yield Settings(data_dir=tmp_path / "other")
        return
    pg: PostgresTemplate | None = request.getfixturevalue("postgres_template")
    if pg is None:
        skip_or_fail("PostgreSQL is not reachable")
        return
    name = pg.new_database()
    try:
        yield Settings(data_dir=tmp_path / "other", database_url=pg_url(name))
    finally:
        PostgresTemplate.drop(name)


@pytest.fixture
def fresh_settings(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    """A second fresh, migrated deployment of the same engine."""
    if backend == "sqlite":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        template.new_database(tmp_path / "fresh")
        yield Settings(data_dir=tmp_path / "fresh")
        return
    pg: PostgresTemplate | None = request.getfixturevalue("postgres_template")
    if pg is None:
        skip_or_fail("PostgreSQL is not reachable")
        return
    name = pg.new_database()
    try:
        yield Settings(data_dir=tmp_path / "fresh", database_url=pg_url(name))
    finally:
        PostgresTemplate.drop(name)


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://o") as client:
            yield client


async def export(client: httpx.AsyncClient, user: User, org_id: str, **body: Any) -> bytes:
    response = await client.post(
        f"/v1/orgs/{org_id}/export", json=body or None, headers=user.headers
    )
    assert response.status_code == 200, response.text
    return response.content


async def import_(
    client: httpx.AsyncClient, user: User, data: bytes, ids: str = "keep", **headers: str
) -> httpx.Response:
    return await client.post(
        f"/v1/orgs/import?ids={ids}", content=data, headers={**user.headers, **headers}
    )


def org_rows(rows: dict[str, list[tuple[Any, ...]]], org_id: str) -> dict[str, list[Any]]:
    """The exported kinds' rows of one org (organization_id leads every tenant row)."""
    names = {t.name for t in exported_tables()}
    return {n: [r for r in v if r[0] == org_id] for n, v in rows.items() if n in names}


async def test_export_import_across_engines_and_back(
    client: httpx.AsyncClient,
    settings: Settings,
    other_settings: Settings,
    fresh_settings: Settings,
) -> None:
    org = await fill(client, flows=3)
    first = await export(client, org.admin, org.id)
    manifest = orjson.loads(zipfile.ZipFile(io.BytesIO(first)).read("manifest.json"))
    assert manifest["format"] == "minibase-org" and manifest["organizationId"] == org.id
    assert manifest["counts"]["flows"] == 3 and manifest["counts"]["outputs"] == 3
    assert manifest["counts"]["versions"] == 6 and manifest["counts"]["members"] == 1

    original = org_rows(await plain_rows(settings), org.id)
    other_app = create_app(other_settings, run_migrations=False)
    async for other in _client(other_app):
        same_person = await signup(other, org.admin.email)
        response = await import_(other, same_person, first)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["id"] == org.id
        assert body["importReport"]["members"]["matched"] == [org.admin.email]
        verify = await other.get(f"/v1/orgs/{org.id}/audit/verify", headers=same_person.headers)
        assert verify.json()["ok"] is True
        flows = await other.get(f"/v1/orgs/{org.id}/flows", headers=same_person.headers)
        assert len(flows.json()["items"]) == 3
        back = await export(other, same_person, org.id)

    imported = org_rows(await plain_rows(other_settings), org.id)
    for table, rows in original.items():
        if table == "memberships":
            continue  # members travel by email: the user ids differ
        if table == "audit_events":  # plus the org.import event
            added = set(imported[table]) - set(rows)
            assert set(rows) <= set(imported[table])
            assert [r[6] for r in added] == ["org.import"]
            continue
        assert imported[table] == rows, table

    # ... and back into a fresh deployment of the first engine
    async for again in _client(create_app(fresh_settings, run_migrations=False)):
        person = await signup(again, org.admin.email)
        response = await import_(again, person, back)
        assert response.status_code == 201, response.text
    round_trip = org_rows(await plain_rows(fresh_settings), org.id)
    for table, rows in original.items():
        if table == "memberships":
            continue
        if table == "audit_events":
            assert set(rows) <= set(round_trip[table])
            continue
        assert round_trip[table] == rows, table


async def test_ids_new_remaps_and_rechains(client: httpx.AsyncClient, settings: Settings) -> None:
    org = await fill(client, flows=2)
    archive = await export(client, org.admin, org.id)
    response = await import_(client, org.admin, archive)
    assert response.status_code == 409  # the id is taken here
    assert response.json()["error"]["code"] == "conflict"

    response = await import_(client, org.admin, archive, ids="new")
    assert response.status_code == 201, response.text
    body = response.json()
    new_org = body["id"]
    report = body["importReport"]
    assert new_org != org.id and report["remapped"]["organization"] == {org.id: new_org}
    assert len(report["remapped"]["flows"]) == 2 and report["remapped"]["auditChainRehashed"]
    verify = await client.get(f"/v1/orgs/{new_org}/audit/verify", headers=org.admin.headers)
    assert verify.json()["ok"] is True
    listed = await client.get(f"/v1/orgs/{new_org}/flows", headers=org.admin.headers)
    ids = sorted(f["id"] for f in listed.json()["items"])
    assert ids == sorted(report["remapped"]["flows"].values())
    flow = await client.get(f"/v1/orgs/{new_org}/flows/{ids[0]}", headers=org.admin.headers)
    assert flow.status_code == 200 and len(flow.json()["nodes"]) == 3
    versions = await client.get(
        f"/v1/orgs/{new_org}/flows/{ids[0]}/versions", headers=org.admin.headers
    )
    assert len(versions.json()["items"]) == 2
    # the original is untouched
    verify = await client.get(f"/v1/orgs/{org.id}/audit/verify", headers=org.admin.headers)
    assert verify.json()["ok"] is True


async def test_sealed_archive_needs_its_passphrase(client: httpx.AsyncClient) -> None:
    org = await fill(client, flows=1)
    response = await client.put(
        f"{org.flows_url}/{(await org.create_flow(SENTINEL))['id']}",
        json={"name": SENTINEL, "nodes": [], "edges": [], "baseVersion": 1},
        headers=org.admin.headers,
    )
    assert response.status_code == 200
    plain = await export(client, org.admin, org.id)
    sealed = await export(client, org.admin, org.id, passphrase="long enough secret")
    assert SENTINEL.encode() in b"".join(
        zipfile.ZipFile(io.BytesIO(plain)).read(n) for n in ["flows.jsonl"]
    )
    assert SENTINEL.encode() not in sealed and b"flows.jsonl" not in sealed

    for headers in ({}, {"X-Archive-Passphrase": "wrong passphrase"}):
        refused = await import_(client, org.admin, sealed, ids="new", **headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "invalid_archive"
    cut = await import_(
        client,
        org.admin,
        sealed[:-100],
        ids="new",
        **{"X-Archive-Passphrase": "long enough secret"},
    )
    assert cut.status_code == 422
    ok = await import_(
        client, org.admin, sealed, ids="new", **{"X-Archive-Passphrase": "long enough secret"}
    )
    assert ok.status_code == 201, ok.text
    short = await client.post(
        f"/v1/orgs/{org.id}/export", json={"passphrase": "short"}, headers=org.admin.headers
    )
    assert short.status_code == 422 and short.json()["error"]["code"] == "validation_error"


def _rewrite(data: bytes, change: dict[str, Any]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename in change:
                replace = change[item.filename]
                content = replace(content)
            target.writestr(item.filename, content)
    return out.getvalue()


async def test_bad_archives_write_nothing(client: httpx.AsyncClient) -> None:
    org = await fill(client, flows=1)
    archive = await export(client, org.admin, org.id)
    newer = _rewrite(
        archive,
        {
            "manifest.json": lambda c: orjson.dumps(
                {**orjson.loads(c), "formatVersion": 7, "minibaseVersion": "9.0.0"}
            )
        },
    )
    tampered = _rewrite(archive, {"flows.jsonl": lambda c: c.replace(b"Flow 0", b"Flow X")})
    flows_file = zipfile.ZipFile(io.BytesIO(archive)).read("flows.jsonl")
    coloured = flows_file.replace(b'{"id"', b'{"colour":1,"id"', 1)

    def consistent_manifest(content: bytes) -> bytes:
        manifest = orjson.loads(content)
        manifest["files"]["flows.jsonl"].update(
            sha256=hashlib.sha256(coloured).hexdigest(), bytes=len(coloured)
        )
        return orjson.dumps(manifest)

    unknown_column = _rewrite(
        archive, {"flows.jsonl": lambda c: coloured, "manifest.json": consistent_manifest}
    )
    cases = {
        "truncated": (archive[: len(archive) // 2], "invalid_archive"),
        "tampered": (tampered, "invalid_archive"),
        "not a zip": (b"hello", "invalid_archive"),
        "newer": (newer, "unsupported_format"),
        "unknown column": (unknown_column, "unsupported_format"),
    }
    orgs_before = (await client.get("/v1/orgs", headers=org.admin.headers)).json()["items"]
    for label, (data, code) in cases.items():
        response = await import_(client, org.admin, data, ids="new")
        assert response.status_code == 422, label
        assert response.json()["error"]["code"] == code, label
    message = (await import_(client, org.admin, newer, ids="new")).json()["error"]["message"]
    assert "format version 7" in message and "up to 1" in message
    orgs_after = (await client.get("/v1/orgs", headers=org.admin.headers)).json()["items"]
    assert orgs_after == orgs_before


async def test_only_admins_export_and_imports_are_capped(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    org = await fill(client, flows=1)
    viewer = await signup(client)
    refused = await client.post(f"/v1/orgs/{org.id}/export", headers=viewer.headers)
    assert refused.status_code == 404  # not a member: no such org (roles: test_access_matrix)
    small = settings.model_copy(update={"max_import_bytes": 2048})
    async for capped in _client(create_app(small, run_migrations=False)):
        big = await import_(capped, org.admin, b"x" * 4096, ids="new")
        assert big.status_code == 413


def _cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    extra = {"MINIBASE_DATABASE_URL": settings.database_url} if settings.is_postgres else {}
    return subprocess.run(
        [sys.executable, "-m", "minibase", *args, "--data-dir", str(settings.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **extra, **env},
    )


@pytest.mark.slow
async def test_export_and_import_commands(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    org = await fill(client, flows=2)
    out = tmp_path / "org.zip.mbseal"
    env = {"ARCHIVE_SECRET": "a long passphrase"}
    done = await asyncio.to_thread(
        _cli, settings, "export", "--org", org.id, "--out", str(out),
        "--passphrase-env", "ARCHIVE_SECRET", **env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"MBSEAL1\n")
    refused = await asyncio.to_thread(
        _cli, settings, "import", str(out), "--admin", org.admin.email, "--ids", "new"
    )
    assert refused.returncode == 1 and "sealed" in refused.stderr
    done = await asyncio.to_thread(
        _cli, settings, "import", str(out), "--admin", org.admin.email, "--ids", "new",
        "--passphrase-env", "ARCHIVE_SECRET", **env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    new_id = done.stdout.split(" as ", 1)[1].split(" ", 1)[0]
    flows = await client.get(f"/v1/orgs/{new_id}/flows", headers=org.admin.headers)
    assert len(flows.json()["items"]) == 2
    # --json: the export's size and the import's whole answer, for scripts.
    plain = tmp_path / "org.zip"
    exported = await asyncio.to_thread(
        _cli, settings, "export", "--org", org.id, "--out", str(plain), "--json"
    )
    assert exported.returncode == 0, exported.stderr
    assert orjson.loads(exported.stdout) == {
        "organizationId": org.id,
        "out": str(plain),
        "bytes": plain.stat().st_size,
    }
    imported = await asyncio.to_thread(
        _cli, settings, "import", str(plain), "--admin", org.admin.email, "--ids", "new", "--json"
    )
    assert imported.returncode == 0, imported.stderr
    answer = orjson.loads(imported.stdout)
    assert answer["report"]["organizationId"] == answer["organization"]["id"] != org.id
    assert answer["report"]["counts"]["flows"] == 2


async def test_runs_travel_with_new_ids(settings: Settings) -> None:
    from tests.engine.helpers import e, n
    from tests.engine.runs_helpers import run_to_end
    from tests.flows_helpers import new_org

    running = settings.model_copy(update={"run_in_server": "always", "run_poll_seconds": 0.05})
    async for client in _client(create_app(running, run_migrations=False)):
        org = await new_org(client)
        flow = await org.create_flow(
            nodes=[n("a", "constant", value={"x": 4}), n("out", "output")], edges=[e("a", "out")]
        )
        run = await run_to_end(org, flow["id"])
        assert run["status"] == "succeeded"
        archive = await export(client, org.admin, org.id)
        assert (
            orjson.loads(zipfile.ZipFile(io.BytesIO(archive)).read("manifest.json"))["counts"][
                "runs"
            ]
            == 1
        )
        response = await import_(client, org.admin, archive, ids="new")
        assert response.status_code == 201, response.text
        new_org_id = response.json()["id"]
        runs = await client.get(f"/v1/orgs/{new_org_id}/runs", headers=org.admin.headers)
        (copied,) = runs.json()["items"]
        assert copied["id"] != run["id"] and copied["id"].startswith("run_")
        assert copied["flowId"] == response.json()["importReport"]["remapped"]["flows"][flow["id"]]
        detail = await client.get(
            f"/v1/orgs/{new_org_id}/runs/{copied['id']}", headers=org.admin.headers
        )
        outputs = await client.get(
            f"/v1/orgs/{new_org_id}/flows/{copied['flowId']}/outputs", headers=org.admin.headers
        )
        output_ids = {o["id"] for o in outputs.json()["items"]}
        assert {node["outputId"] for node in detail.json()["nodes"]} == output_ids
        assert all(o["runId"] == copied["id"] for o in outputs.json()["items"])
