"""Retention per org: old outputs, runs and versions go; every kept version still reads."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.services import retention
from minibase.store.tables import flow_versions, node_outputs
from minibase.store.unit_of_work import Store
from tests.flows_helpers import Org, new_org, node

DAY = 86_400_000


async def _flow_with_history(org: Org, versions: int) -> str:
    flow = await org.create_flow("F", [node("a")], [])
    for v in range(2, versions + 1):
        response = await org.client.put(
            f"{org.flows_url}/{flow['id']}",
            json={"name": "F", "nodes": [node("a", x=v), node(f"n{v}")], "edges": [],
                  "baseVersion": v - 1},
            headers=org.admin.headers,
        )  # fmt: skip
        assert response.status_code == 200, response.text
    return str(flow["id"])


async def _version(org: Org, flow_id: str, v: int) -> Any:
    response = await org.client.get(
        f"{org.flows_url}/{flow_id}/versions/{v}", headers=org.admin.headers
    )
    return response.json() if response.status_code == 200 else response.status_code


async def _storage(org: Org) -> int:
    usage = await org.client.get(f"/v1/orgs/{org.id}/usage", headers=org.admin.headers)
    return int(usage.json()["storage"]["used"])


async def test_old_versions_and_outputs_go(client: httpx.AsyncClient, app: FastAPI) -> None:
    store: Store = app.state.ctx.store
    org = await new_org(client)
    keeper = await new_org(client)  # no policy: untouched
    flow_id = await _flow_with_history(org, 25)
    other = await _flow_with_history(keeper, 3)
    for target in (org, keeper):
        fid = flow_id if target is org else other
        for i in range(3):
            response = await client.post(
                f"{target.flows_url}/{fid}/outputs",
                json={"nodeId": "a", "output": {"i": i, "pad": "x" * 1000}, "computeTime": 1},
                headers=target.admin.headers,
            )
            assert response.status_code == 201
    before = {v: await _version(org, flow_id, v) for v in range(11, 26)}
    old = now_ms() - 3 * DAY
    for target in (org, keeper):
        async with store.tenant(target.id, SYSTEM, write=True) as uow:
            await uow.execute(
                uow.update(flow_versions)
                .where(flow_versions.c.version <= 10)
                .values(created_at=old)
            )
            await uow.execute(
                uow.update(node_outputs)
                .where(node_outputs.c.output.is_not(None))
                .values(timestamp=old)
            )

    bad = await client.patch(
        f"/v1/orgs/{org.id}", json={"settings": {"retention": {"outputsDays": 0}}},
        headers=org.admin.headers,
    )  # fmt: skip
    assert bad.status_code == 422
    policy = {"outputsDays": 1, "runsDays": None, "versionsDays": 1}
    patched = await client.patch(
        f"/v1/orgs/{org.id}", json={"settings": {"retention": policy}}, headers=org.admin.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["settings"]["retention"] == policy
    storage_before = await _storage(org)

    done = await retention.apply_all(store)
    assert done[org.id] == {"outputs": 3, "versions": 10}
    assert keeper.id not in done
    assert await retention.apply_all(store) == {org.id: {"outputs": 0, "versions": 0}}

    assert await _version(org, flow_id, 10) == 404
    for v, document in before.items():  # version 11 is a snapshot now; all read the same
        assert await _version(org, flow_id, v) == document, v
    listed = await client.get(f"{org.flows_url}/{flow_id}/versions", headers=org.admin.headers)
    assert len(listed.json()["items"]) == 15
    outputs = await client.get(f"{org.flows_url}/{flow_id}/outputs", headers=org.admin.headers)
    assert outputs.json()["items"] == []
    assert await _storage(org) < storage_before - 3000
    kept = await client.get(f"{keeper.flows_url}/{other}/outputs", headers=keeper.admin.headers)
    assert len(kept.json()["items"]) == 3
    audit = await client.get(f"/v1/orgs/{org.id}/audit", headers=org.admin.headers)
    applied = [e for e in audit.json()["items"] if e["action"] == "retention.apply"]
    assert applied[0]["details"]["versions"] == 10
    verify = await client.get(f"/v1/orgs/{org.id}/audit/verify", headers=org.admin.headers)
    assert verify.json()["ok"] is True

    cleared = await client.patch(
        f"/v1/orgs/{org.id}", json={"settings": {"retention": None}}, headers=org.admin.headers
    )
    assert cleared.status_code == 200
    assert await retention.apply_all(store) == {}


async def test_policy_travels_with_an_imported_org(client: httpx.AsyncClient, app: FastAPI) -> None:
    org = await new_org(client)
    policy = {"outputsDays": 30, "runsDays": 7, "versionsDays": None}
    await org.patch_settings(retention=policy)
    archive = await client.post(f"/v1/orgs/{org.id}/export", headers=org.admin.headers)
    imported = await client.post(
        "/v1/orgs/import?ids=new", content=archive.content, headers=org.admin.headers
    )
    assert imported.status_code == 201
    assert imported.json()["settings"]["retention"] == policy
    done = await retention.apply_all(app.state.ctx.store)
    assert set(done) == {org.id, imported.json()["id"]}
