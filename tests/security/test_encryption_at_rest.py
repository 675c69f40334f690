"""Encryption at rest, end to end: what an org writes never reaches the database files
or a ``pg_dump`` in the clear, and a deleted org's data stays unreadable even when a
backup taken before the deletion is restored."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from minibase.config import Settings
from minibase.domain.principal import SYSTEM
from minibase.errors import Undecryptable
from minibase.services import backups, flows
from minibase.store.backup import Progress, postgres_dsn
from minibase.store.database import Database
from minibase.store.tables import org_data_keys
from minibase.store.unit_of_work import Store
from tests.care.data_helpers import empty_target
from tests.flows_helpers import Org, node
from tests.services import PostgresTemplate

pytestmark = pytest.mark.slow

QUIET = Progress()


def stored_bytes(settings: Settings) -> bytes:
    """Everything the database holds as it lies on disk: the SQLite files (database,
    WAL), or a ``pg_dump`` of the PostgreSQL database."""
    if settings.is_sqlite:
        return b"".join(
            p.read_bytes() for p in sorted(Path(settings.data_dir).glob("minibase.db*"))
        )
    dump = subprocess.run(
        ["pg_dump", "--data-only", postgres_dsn(settings.database_url)],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return dump.stdout


async def _org_with_secrets(client: httpx.AsyncClient, sentinel: str) -> tuple[Org, str]:
    from tests.flows_helpers import new_org
    from tests.together_helpers import add_member

    org = await new_org(client)
    flow = await org.create_flow("Plain name", [node("a", label=None, data={"s": sentinel})])
    url = f"{org.flows_url}/{flow['id']}"
    for n in range(3):  # history: versions after the first
        response = await client.put(
            url,
            json={
                "name": "Plain name",
                "nodes": [node("a", data={"s": f"{sentinel} v{n}"}), node(f"b{n}")],
                "edges": [],
                "baseVersion": flow["version"] + n,
            },
            headers=org.admin.headers,
        )
        assert response.status_code == 200, response.text
    response = await client.post(
        f"{url}/comments", json={"body": f"a comment: {sentinel}"}, headers=org.admin.headers
    )
    assert response.status_code == 201, response.text
    # A mention: the notification quotes the comment.
    member = await add_member(client, org.admin, org.id, "viewer")
    response = await client.post(
        f"{url}/comments", json={"body": f"@{member.email} {sentinel}"}, headers=org.admin.headers
    )
    assert response.status_code == 201, response.text
    # A template: a copy of the flow's document.
    response = await client.post(
        f"/v1/orgs/{org.id}/templates",
        json={"name": "Plain template", "flowId": flow["id"]},
        headers=org.admin.headers,
    )
    assert response.status_code == 201, response.text
    assert sentinel in response.text
    return org, flow["id"]


async def test_no_sentinel_reaches_the_database_in_the_clear(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    sentinel = f"SENTINEL{secrets.token_hex(8)}"
    org, flow_id = await _org_with_secrets(client, sentinel)
    # Everything reads back in the clear through the API.
    got = await client.get(f"{org.flows_url}/{flow_id}", headers=org.admin.headers)
    assert f"{sentinel} v2" in got.text
    old = await client.get(f"{org.flows_url}/{flow_id}/versions/1", headers=org.admin.headers)
    assert sentinel in old.text, old.text
    listed = await client.get(f"{org.flows_url}/{flow_id}/comments", headers=org.admin.headers)
    assert sentinel in listed.text
    # ... and nothing of it is on disk or in a dump.
    raw = stored_bytes(settings)
    assert len(raw) > 10_000
    assert sentinel.encode() not in raw


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Runs execute in the server, so a run's inputs and outputs are written by this test.
    return settings.model_copy(update={"run_in_server": "always", "run_poll_seconds": 0.05})


async def test_no_sentinel_in_yjs_logs_outputs_or_runs(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    from pycrdt import Doc, Map

    from minibase.store.collab_log import CollabStore
    from tests.engine.helpers import e, n
    from tests.engine.runs_helpers import outputs, run_to_end
    from tests.flows_helpers import new_org

    sentinel = f"SENTINEL{secrets.token_hex(8)}"
    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[n("in", "input", name="who"), n("greet", "template", template="hi {{ $ }}")],
        edges=[e("in", "greet")],
    )
    # A run: its inputs (the run's spec) and every node's output carry the sentinel.
    run = await run_to_end(org, flow["id"], inputs={"who": sentinel})
    assert run["status"] == "succeeded", run
    # An output written through the API.
    response = await client.post(
        f"{org.flows_url}/{flow['id']}/outputs",
        json={"nodeId": "greet", "output": {"text": sentinel}, "computeTime": 1.0},
        headers=org.admin.headers,
    )
    assert response.status_code == 201, response.text
    assert sum(sentinel in str(o["output"]) for o in await outputs(org, flow["id"])) >= 2
    # Yjs: updates in the log, then compacted into a snapshot, then one more update.
    database = Database(settings)
    try:
        log = CollabStore(Store(database))
        doc: Doc[object] = Doc()
        doc["meta"] = meta = Map()
        meta["note"] = f"{sentinel} one"
        await log.append(org.id, flow["id"], doc.get_update(), SYSTEM)
        assert await log.compact(org.id, flow["id"]) is not None
        before = doc.get_state()
        meta["more"] = f"{sentinel} two"
        await log.append(org.id, flow["id"], doc.get_update(before), SYSTEM)
        stored = await CollabStore(Store(database)).load(org.id, flow["id"])
        again: Doc[object] = Doc()
        assert stored.snapshot is not None and len(stored.updates) == 1
        again.apply_update(stored.snapshot)
        again.apply_update(stored.updates[0])
        again["meta"] = seen = Map()
        assert seen["note"] == f"{sentinel} one" and seen["more"] == f"{sentinel} two"
    finally:
        await database.close()
    raw = stored_bytes(settings)
    assert sentinel.encode() not in raw


@pytest.fixture
def target(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    restored = empty_target(settings, tmp_path, "restored")
    yield restored
    if restored.is_postgres:
        PostgresTemplate.drop(restored.database_url.rsplit("/", 1)[-1])


async def test_a_backup_restored_after_deletion_does_not_bring_the_org_back(
    client: httpx.AsyncClient, settings: Settings, target: Settings, tmp_path: Path
) -> None:
    sentinel = f"SENTINEL{secrets.token_hex(8)}"
    org, flow_id = await _org_with_secrets(client, sentinel)
    archive = tmp_path / "before-deletion.zip"
    await backups.take(settings, archive, QUIET)
    deleted = await client.delete(f"/v1/orgs/{org.id}", headers=org.admin.headers)
    assert deleted.status_code == 204, deleted.text
    # The operator restores the old backup with the master key and the shred list kept
    # beside it (outside the backups).
    target.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(settings.data_dir / "master.key", target.data_dir / "master.key")
    shutil.copy2(settings.data_dir / "shredded-orgs", target.data_dir / "shredded-orgs")
    await backups.restore(target, archive, QUIET)
    database = Database(target)
    try:
        store = Store(database)
        async with store.global_(SYSTEM) as uow:
            found = await uow.execute(
                select(org_data_keys.c.owner_org).where(org_data_keys.c.owner_org == org.id)
            )
            assert found.first() is None  # the restore dropped the wrapped key it brought
        with pytest.raises(Undecryptable):
            await flows.read_flow(store, org.id, SYSTEM, flow_id)
    finally:
        await database.close()
    assert sentinel.encode() not in stored_bytes(target)
