"""Version history, node outputs, usage and quotas."""

from __future__ import annotations

import asyncio

import httpx

from tests.flows_helpers import edge, new_org, node
from tests.test_access_matrix import invite_as
from tests.test_http_basics import assert_error


async def test_versions_list_get_diff_restore(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    h = org.admin.headers
    flow = await org.create_flow("F", [node("a")])
    url = f"{org.flows_url}/{flow['id']}"
    for i in range(2, 6):
        r = await client.patch(
            url, headers=h, json={"ops": [{"op": "addNode", "node": node(f"n{i}")}]}
        )
        assert r.json()["version"] == i
    versions = (await client.get(f"{url}/versions", headers=h)).json()
    assert [v["version"] for v in versions["items"]] == [5, 4, 3, 2, 1]
    assert versions["items"][0]["createdBy"] == org.admin.id
    assert versions["items"][0]["summary"]["nodesAdded"] == 1
    assert versions["items"][-1]["summary"]["nodesAdded"] == 1

    v3 = (await client.get(f"{url}/versions/3", headers=h)).json()
    assert v3["version"] == 3
    assert [n["id"] for n in v3["nodes"]] == ["a", "n2", "n3"]
    assert_error(await client.get(f"{url}/versions/99", headers=h), 404, "not_found")

    diff = (await client.get(f"{url}/versions/3/diff/5", headers=h)).json()
    assert diff["summary"]["nodesAdded"] == 2

    restored = await client.post(f"{url}/versions/2/restore", headers=h)
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 6
    assert [n["id"] for n in restored.json()["nodes"]] == ["a", "n2"]
    page = (await client.get(f"{url}/versions", params={"limit": 2}, headers=h)).json()
    assert [v["version"] for v in page["items"]] == [6, 5]
    rest = (
        await client.get(f"{url}/versions", params={"cursor": page["nextCursor"]}, headers=h)
    ).json()
    assert [v["version"] for v in rest["items"]] == [4, 3, 2, 1]


async def test_long_history_rebuilds_every_version(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    h = org.admin.headers
    flow = await org.create_flow("F", [node("a"), node("b")], [edge("a", "b")])
    url = f"{org.flows_url}/{flow['id']}"
    for i in range(2, 46):
        await client.patch(
            url,
            headers=h,
            json={"ops": [{"op": "updateNode", "id": "a", "set": {"position": {"x": i, "y": 0}}}]},
        )
    for v in (1, 2, 20, 21, 22, 40, 45):
        got = (await client.get(f"{url}/versions/{v}", headers=h)).json()
        expected_x = 0 if v == 1 else v
        assert got["nodes"][0]["position"] == {"x": expected_x, "y": 0}, v


async def test_outputs_write_list_latest(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    h = org.admin.headers
    flow = await org.create_flow("F", [node("a"), node("b")])
    url = f"{org.flows_url}/{flow['id']}/outputs"
    written = []
    for i, nid in enumerate(["a", "b", "a"]):
        r = await client.post(
            url, headers=h, json={"nodeId": nid, "output": {"i": i}, "computeTime": 12.5}
        )
        assert r.status_code == 201, r.text
        written.append(r.json())
    first = written[0]
    assert first["organizationId"] == org.id and first["flowId"] == flow["id"]
    assert first["computeTime"] == 12.5 and isinstance(first["timestamp"], int)
    all_ = (await client.get(url, headers=h)).json()["items"]
    assert [o["id"] for o in all_] == [w["id"] for w in reversed(written)]
    by_a = (await client.get(url, params={"nodeId": "a"}, headers=h)).json()["items"]
    assert [o["output"]["i"] for o in by_a] == [2, 0]
    latest = (await client.get(url, params={"latest": "true"}, headers=h)).json()["items"]
    assert sorted((o["nodeId"], o["output"]["i"]) for o in latest) == [("a", 2), ("b", 1)]
    assert_error(
        await client.post(url, headers=h, json={"nodeId": "", "output": 1, "computeTime": -1}),
        422,
        "validation_error",
    )
    assert_error(
        await client.post(
            f"{org.flows_url}/flow_nope/outputs",
            headers=h,
            json={"nodeId": "a", "output": 1, "computeTime": 1},
        ),
        404,
        "not_found",
    )


async def test_usage_quotas_and_warnings(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    h = org.admin.headers
    await org.patch_settings(maxFlows=5, maxNodes=10, allowedNodeTypes=["default", "llm"])
    usage = (await client.get(f"/v1/orgs/{org.id}/usage", headers=h)).json()
    assert usage["flows"] == {"used": 0, "limit": 5}
    assert usage["nodes"] == {"used": 0, "limit": 10}
    assert usage["storage"]["limit"] == 100_000_000
    assert usage["warnings"] == []

    await org.create_flow("F1", [node(f"n{i}") for i in range(8)])
    r = await client.post(org.flows_url, headers=h, json={"name": "F2", "nodes": [node("x")]})
    assert r.status_code == 201
    assert r.headers["x-quota-warning"] == "maxNodes=9/10"
    usage = (await client.get(f"/v1/orgs/{org.id}/usage", headers=h)).json()
    assert usage["warnings"] == [{"quota": "maxNodes", "level": "warning", "used": 9, "limit": 10}]

    over = await client.post(
        org.flows_url, headers=h, json={"name": "F3", "nodes": [node("y"), node("z")]}
    )
    assert_error(over, 403, "quota_exceeded")
    assert over.json()["error"]["details"] == {
        "quota": "maxNodes",
        "limit": 10,
        "used": 9,
        "requested": 2,
    }
    typed = await client.post(
        org.flows_url, headers=h, json={"name": "F4", "nodes": [node("q", type_="shell")]}
    )
    assert_error(typed, 403, "quota_exceeded")
    assert typed.json()["error"]["details"]["quota"] == "allowedNodeTypes"

    org_body = (await client.get(f"/v1/orgs/{org.id}", headers=h)).json()
    metrics = org_body["billing"]["usageMetrics"]
    assert metrics["nodesUsed"] == 9 and metrics["flowsCreated"] == 2
    assert metrics["storageUsed"] > 0


async def test_quota_race_never_overshoots(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    await org.patch_settings(maxFlows=10)
    h = org.admin.headers

    async def create(i: int) -> int:
        r = await client.post(org.flows_url, headers=h, json={"name": f"f{i}"})
        return r.status_code

    codes = await asyncio.gather(*(create(i) for i in range(50)))
    assert codes.count(201) == 10
    assert set(codes) == {201, 403}
    listed = (await client.get(org.flows_url, params={"limit": 100}, headers=h)).json()
    assert len(listed["items"]) == 10
    usage = (await client.get(f"/v1/orgs/{org.id}/usage", headers=h)).json()
    assert usage["flows"]["used"] == 10


async def test_concurrent_stale_saves_lose_nothing(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    h = org.admin.headers
    flow = await org.create_flow("F", [node("shared")])
    url = f"{org.flows_url}/{flow['id']}"

    async def save(i: int) -> httpx.Response:
        return await client.put(
            url,
            headers=h,
            json={
                "baseVersion": 1,
                "nodes": [node("shared", i, i), node(f"mine-{i}")],
                "edges": [],
            },
        )

    responses = await asyncio.gather(*(save(i) for i in range(20)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    final = (await client.get(url, headers=h)).json()
    ids = {n["id"] for n in final["nodes"]}
    assert ids == {"shared"} | {f"mine-{i}" for i in range(20)}
    shared = next(n for n in final["nodes"] if n["id"] == "shared")
    assert shared["position"]["x"] in range(20)
    assert final["version"] == 21
    versions = (await client.get(f"{url}/versions", params={"limit": 500}, headers=h)).json()[
        "items"
    ]
    assert [v["version"] for v in versions] == list(range(21, 0, -1))


async def test_concurrent_saves_each_keep_their_author_quota_and_audit_row(
    client: httpx.AsyncClient,
) -> None:
    """Saves of one flow that queue up are written together (services/flow_saves.py):
    each still gets its own version, author and audit row, and a save that the quota
    refuses is refused alone, against the counters as the saves before it left them."""
    org = await new_org(client)
    editor = await invite_as(client, org.admin, org.id, "editor")
    await org.patch_settings(maxNodes=6)
    flow = await org.create_flow("F", [node("shared")])
    url = f"{org.flows_url}/{flow['id']}"
    users = {0: org.admin, 1: editor}

    async def save(i: int) -> httpx.Response:
        return await client.put(
            url,
            headers=users[i % 2].headers,
            json={"baseVersion": 1, "nodes": [node("shared"), node(f"mine-{i}")], "edges": []},
        )

    responses = await asyncio.gather(*(save(i) for i in range(12)))
    accepted = [i for i, r in enumerate(responses) if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(accepted) == 5, [r.text for r in responses]
    for r in refused:
        assert_error(r, 403, "quota_exceeded")
        assert r.json()["error"]["details"] == {
            "quota": "maxNodes",
            "limit": 6,
            "used": 6,
            "requested": 1,
        }
    assert sorted(responses[i].json()["version"] for i in accepted) == [2, 3, 4, 5, 6]
    final = (await client.get(url, headers=org.admin.headers)).json()
    assert final["version"] == 6
    assert {n["id"] for n in final["nodes"]} == {"shared"} | {f"mine-{i}" for i in accepted}

    by_version = {responses[i].json()["version"]: users[i % 2].id for i in accepted}
    versions = (
        await client.get(f"{url}/versions", params={"limit": 50}, headers=org.admin.headers)
    ).json()["items"]
    assert {v["version"]: v["createdBy"] for v in versions if v["version"] > 1} == by_version
    events = (
        await client.get(
            f"/v1/orgs/{org.id}/audit",
            params={"action": "flow.update", "limit": 50},
            headers=org.admin.headers,
        )
    ).json()["items"]
    assert {e["details"]["version"]: e["actor"]["id"] for e in events} == by_version
    verify = (await client.get(f"/v1/orgs/{org.id}/audit/verify", headers=org.admin.headers)).json()
    assert verify["ok"] is True
    usage = (await client.get(f"/v1/orgs/{org.id}/usage", headers=org.admin.headers)).json()
    assert usage["nodes"]["used"] == 6
