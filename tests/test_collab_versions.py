"""Collaborative edits become REST versions: one per author per window of editing."""

from __future__ import annotations

import httpx
import pytest
from pycrdt import Map

from minibase.config import Settings
from tests.collab.yclient import YClient
from tests.flows_helpers import new_org, node
from tests.test_collab_flows import by_id, collab_url, eventually, rest_flow


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A window of two seconds: the edits below fall in one, however they interleave."""
    return settings.model_copy(
        update={"collab_version_seconds": 2.0, "collab_unload_seconds": 0.05}
    )


async def test_editors_editing_at_once_get_a_version_each(
    client: httpx.AsyncClient, live_url: str
) -> None:
    """Two editors' interleaved edits: a version each per window, not one per change of
    author, each by its author; the REST flow ends equal to the document."""
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    editor = await org.member("editor")
    first = collab_url(live_url, org.id, flow["id"], org.admin.token)
    second = collab_url(live_url, org.id, flow["id"], editor.token)
    async with YClient(first) as alice, YClient(second) as bob:
        for turn in range(5):
            for who, author, other in (("alice", alice, bob), ("bob", bob, alice)):
                key = f"{who}{turn}"
                author.nodes[key] = Map(
                    {"id": key, "type": "default", "position": {"x": turn, "y": 0}}
                )
                # Through the server before the other edits: the authors interleave there.
                await other.wait_for(lambda key=key, other=other: key in other.nodes)
        wanted = {"a"} | {f"{who}{turn}" for who in ("alice", "bob") for turn in range(5)}

        async def materialized() -> bool:
            return set(by_id((await rest_flow(client, org, flow["id"]))["nodes"])) == wanted

        await eventually(materialized)
    versions = (
        await client.get(f"{org.flows_url}/{flow['id']}/versions", headers=org.admin.headers)
    ).json()["items"]
    collab = [v for v in versions if v["version"] > flow["version"]]
    # Ten changes of author in one window: a version each.
    assert len(collab) == 2, collab
    assert {v["createdBy"] for v in collab} == {org.admin.id, editor.id}
