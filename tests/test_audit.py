"""The audit log: every mutation and denied attempt, hash-chained, verifiable, tamper-evident."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from minibase.cli import main
from minibase.config import Settings
from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from tests.flows_helpers import Org, new_org, node
from tests.test_http_basics import assert_error


async def _events(client: httpx.AsyncClient, org: Org, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/orgs/{org.id}/audit", params=params, headers=org.admin.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def _seed(client: httpx.AsyncClient) -> Org:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    url = f"{org.flows_url}/{flow['id']}"
    await client.patch(
        url,
        headers=org.admin.headers,
        json={"ops": [{"op": "rename", "name": "G\r\nInjected: yes"}]},
    )
    await client.delete(url, headers=org.admin.headers)
    return org


async def test_mutations_are_recorded_with_a_chain(client: httpx.AsyncClient) -> None:
    org = await _seed(client)
    events = await _events(client, org)
    assert [e["action"] for e in events] == [
        "flow.delete",
        "flow.patch",
        "flow.create",
        "org.create",
    ]
    assert [e["seq"] for e in events] == [4, 3, 2, 1]
    for newer, older in itertools.pairwise(events):
        assert newer["prevHash"] == older["hash"]
    assert events[-1]["prevHash"] == "0" * 64
    create = events[2]
    assert create["actor"] == {"type": "user", "id": org.admin.id}
    assert create["resource"]["type"] == "flow"
    assert create["outcome"] == "success"
    assert create["ip"] == "127.0.0.1"
    assert "\n" not in str(events[1]["details"]) and "\r" not in str(events[1]["details"])
    # A flow's new version is written by VersionWriter (one statement on PostgreSQL):
    # every column lands in its place.
    patch = events[1]
    assert patch["actor"] == {"type": "user", "id": org.admin.id}
    assert patch["resource"] == {"type": "flow", "id": create["resource"]["id"]}
    assert (patch["ip"], patch["outcome"]) == ("127.0.0.1", "success")
    assert patch["userAgent"].startswith("python-httpx/")
    assert patch["details"]["version"] == 2 and patch["details"]["ops"] == 1
    assert patch["id"].startswith("evt_") and patch["prevHash"] == create["hash"]

    only = await _events(client, org, action="flow.create")
    assert [e["seq"] for e in only] == [2]
    page = await _events(client, org, limit=1)
    assert len(page) == 1
    assert (
        await client.get(f"/v1/orgs/{org.id}/audit/verify", headers=org.admin.headers)
    ).json() == {"ok": True, "checked": 4, "firstBadSeq": None}


async def test_denied_attempts_are_recorded(client: httpx.AsyncClient, app: FastAPI) -> None:
    org = await new_org(client)
    from tests.helpers import signup

    viewer = await signup(client)
    ctx: AppContext = app.state.ctx
    async with ctx.store.tenant(org.id, SYSTEM, write=True) as uow:
        await uow.execute(
            text(
                "INSERT INTO memberships (organization_id, user_id, role, created_at) "
                "VALUES (:o, :u, 'viewer', 0)"
            ),
            {"o": org.id, "u": viewer.id},
        )
    denied = await client.post(org.flows_url, json={"name": "x"}, headers=viewer.headers)
    assert_error(denied, 403, "forbidden")
    events = await _events(client, org)
    assert events[0]["outcome"] == "denied"
    assert events[0]["actor"] == {"type": "user", "id": viewer.id}
    assert events[0]["action"] == "flows.write"


TAMPERS = {
    "edit": "UPDATE audit_events SET outcome = 'failure' WHERE organization_id = :o AND seq = 2",
    "delete": "DELETE FROM audit_events WHERE organization_id = :o AND seq = 2",
    "reorder": (
        "UPDATE audit_events SET action = CASE seq WHEN 2 THEN 'flow.patch' "
        "ELSE 'flow.create' END WHERE organization_id = :o AND seq IN (2, 3)"
    ),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
async def test_tampering_is_detected(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tamper: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = await _seed(client)
    ctx: AppContext = app.state.ctx
    # Tampering needs the owner's rights on PostgreSQL (the app role cannot bypass RLS).
    async with ctx.database.transaction(write=True) as conn:
        if ctx.database.is_postgres:
            await conn.execute(text("RESET ROLE"))
        result = await conn.execute(text(TAMPERS[tamper]), {"o": org.id})
        assert getattr(result, "rowcount", 0) >= 1
        if ctx.database.is_postgres:
            await conn.execute(text(f"SET ROLE {settings.app_role}"))
    verdict = (
        await client.get(f"/v1/orgs/{org.id}/audit/verify", headers=org.admin.headers)
    ).json()
    assert verdict["ok"] is False
    assert verdict["firstBadSeq"] == 2
    assert verdict["checked"] == 1

    monkeypatch.setenv("MINIBASE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MINIBASE_DATA_DIR", str(settings.data_dir))
    code = await asyncio.to_thread(main, ["audit", "verify", "--org", org.id])
    assert code == 1
    assert "BROKEN at seq 2" in capsys.readouterr().out
