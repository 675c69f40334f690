"""Tasks: create, filter, change, delete; who may; the assignee is notified; live."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets

from tests.flows_helpers import new_org, node
from tests.helpers import signup
from tests.test_http_basics import assert_error
from tests.together_helpers import TIMEOUT, add_member, notifications_of


async def test_tasks_lifecycle_and_filters(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(name="ETL", nodes=[node("a")])
    editor = await add_member(client, org.admin, org.id, "editor")
    viewer = await add_member(client, org.admin, org.id, "viewer")
    url = f"/v1/orgs/{org.id}/tasks"

    created = await client.post(
        url,
        json={
            "title": "Cache node a",
            "description": "It is slow",
            "flowId": flow["id"],
            "nodeId": "a",
            "assigneeId": viewer.id,
            "dueAt": 1_800_000_000_000,
        },
        headers=editor.headers,
    )
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["id"].startswith("tsk_") and task["status"] == "open"
    assert (task["flowId"], task["nodeId"], task["assigneeId"]) == (flow["id"], "a", viewer.id)
    assert task["createdBy"] == editor.id and task["dueAt"] == 1_800_000_000_000
    (assigned,) = [
        n for n in await notifications_of(client, viewer) if n["kind"] == "task_assigned"
    ]
    assert assigned["data"]["taskId"] == task["id"] and assigned["data"]["flowName"] == "ETL"

    other = (await client.post(url, json={"title": "Write docs"}, headers=org.admin.headers)).json()
    assert other["description"] == "" and other["assigneeId"] is None

    async def ids(**params: str) -> list[str]:
        response = await client.get(url, params=params, headers=viewer.headers)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert await ids() == [other["id"], task["id"]]
    assert await ids(assigneeId=viewer.id) == [task["id"]]
    assert await ids(flowId=flow["id"]) == [task["id"]]
    assert await ids(status="open") == [other["id"], task["id"]]

    moved = await client.patch(
        f"{url}/{task['id']}",
        json={"status": "in_progress", "dueAt": None, "assigneeId": editor.id},
        headers=org.admin.headers,
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["status"], moved.json()["dueAt"]) == ("in_progress", None)
    assert (await notifications_of(client, editor))[0]["kind"] == "task_assigned"
    assert await ids(status="in_progress") == [task["id"]]
    assert (await client.get(f"{url}/{task['id']}", headers=viewer.headers)).json()["status"] == (
        "in_progress"
    )
    # Self-assignment notifies no one.
    before = len(await notifications_of(client, org.admin))
    await client.patch(
        f"{url}/{other['id']}", json={"assigneeId": org.admin.id}, headers=org.admin.headers
    )
    assert len(await notifications_of(client, org.admin)) == before

    # Viewers read only.
    assert_error(
        await client.post(url, json={"title": "x"}, headers=viewer.headers), 403, "forbidden"
    )
    assert_error(
        await client.patch(f"{url}/{task['id']}", json={"status": "done"}, headers=viewer.headers),
        403,
        "forbidden",
    )
    assert (await client.delete(f"{url}/{task['id']}", headers=editor.headers)).status_code == 204
    assert_error(await client.get(f"{url}/{task['id']}", headers=viewer.headers), 404, "not_found")


async def test_tasks_of_deleted_nodes_and_flows_are_orphaned(client: httpx.AsyncClient) -> None:
    """A task outlives its node or flow: kept with its ids, marked ``orphaned`` against the
    flows as they are now (as node comments are), and no longer orphaned once they are back."""
    org = await new_org(client)
    flow = await org.create_flow(name="ETL", nodes=[node("a"), node("b")])
    url = f"/v1/orgs/{org.id}/tasks"
    h = org.admin.headers

    async def create(**body: str) -> str:
        created = await client.post(url, json={"title": "t", **body}, headers=h)
        assert created.status_code == 201, created.text
        assert created.json()["orphaned"] is False
        return str(created.json()["id"])

    on_a = await create(flowId=flow["id"], nodeId="a")
    on_flow = await create(flowId=flow["id"])
    loose = await create()

    async def orphaned() -> dict[str, tuple[bool, str | None, str | None]]:
        listed = await client.get(url, headers=h)
        assert listed.status_code == 200, listed.text
        return {t["id"]: (t["orphaned"], t["flowId"], t["nodeId"]) for t in listed.json()["items"]}

    removed = await client.patch(
        f"{org.flows_url}/{flow['id']}",
        json={"ops": [{"op": "removeNode", "id": "a"}]},
        headers=h,
    )
    assert removed.status_code == 200, removed.text
    assert await orphaned() == {
        on_a: (True, flow["id"], "a"),
        on_flow: (False, flow["id"], None),
        loose: (False, None, None),
    }
    one = await client.get(f"{url}/{on_a}", headers=h)
    assert one.json()["orphaned"] is True
    # Changing something else keeps the task where it was; it stays orphaned.
    changed = await client.patch(f"{url}/{on_a}", json={"status": "done"}, headers=h)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["orphaned"], changed.json()["nodeId"]) == (True, "a")

    assert (await client.delete(f"{org.flows_url}/{flow['id']}", headers=h)).status_code == 204
    assert await orphaned() == {
        on_a: (True, flow["id"], "a"),
        on_flow: (True, flow["id"], None),
        loose: (False, None, None),
    }
    # Still found by the flow's id, to clean them up.
    by_flow = await client.get(url, params={"flowId": flow["id"]}, headers=h)
    assert {t["id"] for t in by_flow.json()["items"]} == {on_a, on_flow}

    restored = await client.post(f"{org.flows_url}/{flow['id']}/restore", headers=h)
    assert restored.status_code == 200, restored.text
    assert (await orphaned())[on_flow] == (False, flow["id"], None)
    back = await client.patch(
        f"{org.flows_url}/{flow['id']}",
        json={"ops": [{"op": "addNode", "node": node("a")}]},
        headers=h,
    )
    assert back.status_code == 200, back.text
    assert (await orphaned())[on_a] == (False, flow["id"], "a")


async def test_task_bad_input(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=[node("a")])
    outsider = await signup(client)
    url = f"/v1/orgs/{org.id}/tasks"
    h = org.admin.headers
    for body in (
        {},
        {"title": ""},
        {"title": "x" * 501},
        {"title": "x", "description": "y" * 10_001},
        {"title": "x", "status": "blocked"},
        {"title": "x", "dueAt": -1},
        {"title": "x", "assigneeId": outsider.id},
        {"title": "x", "flowId": "flow_nope"},
        {"title": "x", "nodeId": "a"},
        {"title": "x", "flowId": flow["id"], "nodeId": "zz"},
    ):
        assert_error(await client.post(url, json=body, headers=h), 422, "validation_error")
    assert_error(
        await client.patch(f"{url}/tsk_nope", json={"title": "y"}, headers=h), 404, "not_found"
    )
    assert_error(
        await client.get(url, params={"status": "nope"}, headers=h), 422, "validation_error"
    )


async def test_tasks_live(client: httpx.AsyncClient, live_url: str) -> None:
    org = await new_org(client)
    async with websockets.connect(f"ws://{live_url}/v1/sync?token={org.admin.token}") as ws:
        await ws.send(
            json.dumps(
                {"type": "subscribe", "id": "t", "query": "tasks.list", "args": {"orgId": org.id}}
            )
        )
        first = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert first["value"]["items"] == []
        created = await client.post(
            f"/v1/orgs/{org.id}/tasks", json={"title": "Live"}, headers=org.admin.headers
        )
        pushed = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert [t["id"] for t in pushed["value"]["items"]] == [created.json()["id"]]
