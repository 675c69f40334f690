"""React Flow's view-only fields (selected, dragging, resizing) never make a version."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pycrdt import Map

from minibase.config import Settings
from minibase.domain.view_fields import drop_view_fields, without_view_fields
from tests.collab.yclient import YClient
from tests.flows_helpers import Org, edge, new_org, node
from tests.test_collab_flows import by_id, collab_url, eventually, rest_flow


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"collab_version_seconds": 0.05, "collab_unload_seconds": 0.05}
    )


def test_without_view_fields_keeps_everything_else() -> None:
    plain = node("a")
    assert without_view_fields(plain) is plain
    viewed = {**node("a"), "selected": True, "dragging": False, "resizing": True, "width": 9}
    assert without_view_fields(viewed) == {**node("a"), "width": 9}
    items = [plain, viewed]
    stripped = drop_view_fields(items, range(2))
    assert stripped is not items and items[1] is viewed and stripped[0] is plain
    assert drop_view_fields([plain], range(1)) == [plain]


async def versions_of(api: httpx.AsyncClient, org: Org, flow_id: str) -> list[dict[str, Any]]:
    r = await api.get(f"{org.flows_url}/{flow_id}/versions", headers=org.admin.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_rest_saves_of_view_fields_make_no_version(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    created = await org.create_flow(
        "F", [node("a", selected=True), node("b", 5, 5)], [edge("a", "b") | {"selected": True}]
    )
    assert "selected" not in created["nodes"][0] and "selected" not in created["edges"][0]
    url = f"{org.flows_url}/{created['id']}"
    flow = (await client.get(url, headers=org.admin.headers)).json()

    # A PUT that selects, drags and resizes: accepted, same version, nothing stored.
    body = {
        "nodes": [
            {**flow["nodes"][0], "selected": True, "dragging": True},
            {**flow["nodes"][1], "resizing": True},
        ],
        "edges": [{**flow["edges"][0], "selected": True}],
        "baseVersion": flow["version"],
    }
    r = await client.put(url, json=body, headers=org.admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == flow["version"] == 1
    assert r.json()["nodes"] == flow["nodes"] and r.json()["edges"] == flow["edges"]

    # A PATCH that only selects: the same.
    r = await client.patch(
        url,
        json={"ops": [{"op": "updateNode", "id": "a", "set": {"selected": True}}]},
        headers=org.admin.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1

    # A real change with view fields beside it: one version, without them.
    body["nodes"][0]["position"] = {"x": 7, "y": 7}
    r = await client.put(url, json=body, headers=org.admin.headers)
    assert r.json()["version"] == 2
    assert r.json()["nodes"][0] == {**flow["nodes"][0], "position": {"x": 7, "y": 7}}
    assert [v["version"] for v in await versions_of(client, org, created["id"])] == [2, 1]


async def test_yjs_updates_of_view_fields_make_no_version(
    client: httpx.AsyncClient, live_url: str
) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a"), node("b", 10, 10)], [edge("a", "b")])
    async with YClient(collab_url(live_url, org.id, flow["id"], org.admin.token)) as y:
        # Only view fields: the server takes the update (the document is shared as is)...
        await y.edit(lambda: y.nodes["a"].update({"selected": True, "dragging": True}))
        # ...and a real edit afterwards makes one version holding only the real change.
        await y.edit(lambda: y.nodes["b"].__setitem__("position", {"x": 3, "y": 4}))

        async def moved() -> bool:
            nodes = by_id((await rest_flow(client, org, flow["id"]))["nodes"])
            return nodes["b"]["position"] == {"x": 3, "y": 4}

        await eventually(moved)
    current = await rest_flow(client, org, flow["id"])
    assert by_id(current["nodes"])["a"] == node("a")
    versions = await versions_of(client, org, flow["id"])
    assert [v["version"] for v in versions] == [2, 1]
    r = await client.get(
        f"{org.flows_url}/{flow['id']}/versions/1/diff/2", headers=org.admin.headers
    )
    changes = r.json()["changes"]["nodes"]["changed"]
    moved_b = {"field": "position", "from": {"x": 10, "y": 10}, "to": {"x": 3, "y": 4}}
    assert changes == [{"id": "b", "changes": [moved_b]}]
    assert isinstance(y.nodes["a"], Map)
