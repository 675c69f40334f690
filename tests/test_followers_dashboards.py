"""Following a flow (a failed run notifies its followers, through the real engine) and
custom dashboards (saved charts and filters, owner-only changes, shared ones, their data)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from minibase.config import Settings
from minibase.ids import now_ms
from tests.engine.helpers import e, n
from tests.engine.runs_helpers import run_to_end
from tests.flows_helpers import new_org, node
from tests.helpers import bearer
from tests.insight_fixture import insert_runs
from tests.test_access_matrix import api_key
from tests.test_http_basics import assert_error
from tests.together_helpers import add_member, notifications_of

HOUR = 3_600_000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"run_in_server": "always", "run_poll_seconds": 0.05, "run_lease_seconds": 3.0}
    )


async def test_failed_runs_notify_followers(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        name="Divider",
        nodes=[n("zero", "constant", value={"d": 0}), n("divide", "math", expression="1 / d")],
        edges=[e("zero", "divide")],
    )
    viewer = await add_member(client, org.admin, org.id, "viewer")
    bystander = await add_member(client, org.admin, org.id, "editor")
    url = f"{org.flows_url}/{flow['id']}/follow"
    assert (await client.get(url, headers=viewer.headers)).json()["following"] is False
    followed = await client.post(url, headers=viewer.headers)
    assert followed.json() == {"flowId": flow["id"], "following": True}
    assert (await client.post(url, headers=viewer.headers)).status_code == 200  # idempotent
    assert (await client.get(url, headers=viewer.headers)).json()["following"] is True

    run = await run_to_end(org, flow["id"])
    assert run["status"] == "failed"
    (failed,) = [x for x in await notifications_of(client, viewer) if x["kind"] == "run_failed"]
    assert failed["data"]["runId"] == run["id"] and failed["data"]["flowName"] == "Divider"
    assert failed["data"]["error"]["nodeId"] == "divide"
    assert not [x for x in await notifications_of(client, bystander) if x["kind"] == "run_failed"]

    assert (await client.delete(url, headers=viewer.headers)).json()["following"] is False
    await run_to_end(org, flow["id"])
    assert (
        len([x for x in await notifications_of(client, viewer) if x["kind"] == "run_failed"]) == 1
    )

    key = bearer(await api_key(client, org.admin, org.id, "admin"))
    assert_error(await client.post(url, headers=key), 422, "validation_error")
    assert_error(
        await client.post(f"{org.flows_url}/flow_nope/follow", headers=viewer.headers),
        404,
        "not_found",
    )


async def test_dashboards(app: FastAPI, client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=[node("a"), node("b"), node("c")])
    await insert_runs(app.state.ctx.store, org.id, flow["id"], org.admin.id, now_ms() - HOUR)
    viewer = await add_member(client, org.admin, org.id, "viewer")
    url = f"/v1/orgs/{org.id}/dashboards"
    body = {
        "name": "Speed",
        "charts": [
            {"type": "bar", "metric": "nodeTypes.p95", "title": "p95 by type"},
            {"type": "line", "metric": "daily.runs"},
            {"type": "number", "metric": "usage"},
        ],
        "filters": {"range": "7d", "flowId": flow["id"]},
    }
    created = await client.post(url, json=body, headers=viewer.headers)
    assert created.status_code == 201, created.text
    dash = created.json()
    assert dash["id"].startswith("dsh_") and dash["ownerId"] == viewer.id
    assert dash["filters"] == {"range": "7d", "flowId": flow["id"]}
    assert dash["charts"][0] == {"type": "bar", "metric": "nodeTypes.p95", "title": "p95 by type"}

    data = await client.get(f"{url}/{dash['id']}/data", headers=viewer.headers)
    assert data.status_code == 200, data.text
    charts = data.json()["charts"]
    by_type = {d["key"]: d["value"] for d in charts[0]["data"]}
    assert by_type == {"type_a": 1000.0, "type_b": 4000.0, "type_c": 10.0}
    assert sum(d["value"] for d in charts[1]["data"]) == 10
    assert charts[2]["data"]["runs"] == 10
    assert data.json()["to"] - data.json()["from"] == 7 * 86_400_000

    # Private until shared; only the owner changes it.
    assert (await client.get(url, headers=org.admin.headers)).json()["items"] == []
    assert_error(
        await client.get(f"{url}/{dash['id']}", headers=org.admin.headers), 404, "not_found"
    )
    shared = await client.patch(
        f"{url}/{dash['id']}", json={"shared": True}, headers=viewer.headers
    )
    assert shared.status_code == 200 and shared.json()["shared"] is True
    assert [
        d["id"] for d in (await client.get(url, headers=org.admin.headers)).json()["items"]
    ] == [dash["id"]]
    assert_error(
        await client.patch(f"{url}/{dash['id']}", json={"name": "Mine"}, headers=org.admin.headers),
        403,
        "forbidden",
    )
    assert_error(
        await client.delete(f"{url}/{dash['id']}", headers=org.admin.headers), 403, "forbidden"
    )
    renamed = await client.patch(
        f"{url}/{dash['id']}",
        json={"name": "Speed 2", "charts": [{"type": "table", "metric": "suggestions"}]},
        headers=viewer.headers,
    )
    assert renamed.json()["name"] == "Speed 2" and len(renamed.json()["charts"]) == 1
    for bad in (
        {"name": ""},
        {"name": "x", "charts": [{"type": "pie", "metric": "daily.runs"}]},
        {"name": "x", "charts": [{"type": "bar", "metric": "daily.nope"}]},
        {"name": "x", "filters": {"range": "2y"}},
        {"name": "x", "filters": {"from": -5}},
        {"name": "x", "charts": [{"type": "bar", "metric": "daily.runs"}] * 51},
    ):
        assert_error(
            await client.post(url, json=bad, headers=viewer.headers), 422, "validation_error"
        )
    inverted = await client.post(
        url, json={"name": "x", "filters": {"from": 2000, "to": 1000}}, headers=viewer.headers
    )
    assert_error(
        await client.get(f"{url}/{inverted.json()['id']}/data", headers=viewer.headers),
        422,
        "validation_error",
    )
    assert (await client.delete(f"{url}/{dash['id']}", headers=viewer.headers)).status_code == 204
    assert_error(await client.get(f"{url}/{dash['id']}", headers=viewer.headers), 404, "not_found")
