"""Collaborative editing through the SDK against a real server (SQLite and PostgreSQL):
edits made in the SDK's document reach the REST flow, REST changes reach the document,
presence travels between two sessions, viewers and refusals are reported."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import pytest

from minibase.client import AsyncClient, Client, NotFound, Retry
from minibase.client.collab import edge_id
from tests.process import ServerProcess
from tests.sdk.conftest import start_server

FAST = Retry(attempts=4, backoff=0.05, max_backoff=0.5)


def signed_in(server: ServerProcess) -> tuple[Client, str, str]:
    client = Client(server.base_url, retry=FAST)
    client.signup(f"collab-{secrets.token_hex(4)}@example.com", "collab password 12")
    org = client.create_org("Collab")
    node = {"id": "a", "type": "constant", "position": {"x": 0, "y": 0}, "data": {"value": 1}}
    flow = client.create_flow(org["id"], "Shared", nodes=[node])
    return client, org["id"], flow["id"]


def rest_until(
    client: Client, org_id: str, flow_id: str, check: Any, timeout: float = 20
) -> dict[str, Any]:
    """The REST flow once ``check`` holds, followed with the ``flows.get`` live query."""
    with client.subscribe("flows.get", orgId=org_id, flowId=flow_id) as live:
        value = live.next(timeout)
        while not check(value):
            value = live.next(timeout)
    assert check(client.get_flow(org_id, flow_id))
    return dict(value)


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


def test_sdk_edits_reach_rest_and_rest_edits_reach_the_document(server: ServerProcess) -> None:
    client, org_id, flow_id = signed_in(server)
    with client.collab(org_id, flow_id) as flow:
        assert [n["id"] for n in flow.flow()["nodes"]] == ["a"]  # the server's state
        flow.add_node(
            {
                "id": "b",
                "type": "math",
                "position": {"x": 200, "y": 0},
                "selected": True,
                "data": {"expression": "x * 2"},
            }
        )
        edge = flow.connect("a", "b")
        assert edge == edge_id("a", "b") == "xy-edge__a-b"
        flow.move_node("a", 10, 20)
        flow.update_node_data("a", {"value": 5})
        flow.rename("Edited from Python")
        flow.flush(10)

        stored = rest_until(
            client,
            org_id,
            flow_id,
            lambda f: (
                f["name"] == "Edited from Python"
                and len(f["nodes"]) == 2
                and len(f["edges"]) == 1
                and by_id(f["nodes"])["a"]["data"]["value"] == 5
            ),
        )
        nodes = by_id(stored["nodes"])
        assert nodes["a"]["position"] == {"x": 10, "y": 20}
        assert nodes["b"] == {
            "id": "b",
            "type": "math",
            "position": {"x": 200, "y": 0},
            "data": {"expression": "x * 2"},
        }  # no view-only field was written
        assert stored["edges"] == [{"id": "xy-edge__a-b", "source": "a", "target": "b"}]

        # A REST change appears in the live document.
        client.patch_flow(
            org_id,
            flow_id,
            [
                {
                    "op": "addNode",
                    "node": {
                        "id": "c",
                        "type": "constant",
                        "position": {"x": 0, "y": 90},
                        "data": {},
                    },
                }
            ],
        )
        seen = flow.wait_for(lambda f: "c" in by_id(f["nodes"]), timeout=10)
        assert by_id(seen["nodes"])["c"]["position"] == {"x": 0, "y": 90}

        # Deleting a node deletes its edges in the same update.
        flow.delete_node("b")
        assert flow.edge("xy-edge__a-b") is None
        flow.flush(10)
    rest_until(
        client,
        org_id,
        flow_id,
        lambda f: sorted(n["id"] for n in f["nodes"]) == ["a", "c"] and f["edges"] == [],
    )
    client.close()


async def test_async_sessions_share_edits_and_presence(server: ServerProcess) -> None:
    setup, org_id, flow_id = signed_in(server)
    async with (
        AsyncClient(server.base_url, token=setup.token, retry=FAST) as client,
        client.collab(org_id, flow_id, presence={"user": {"name": "Ada"}}) as ada,
        client.collab(org_id, flow_id, presence={"user": {"name": "Bob"}}) as bob,
    ):
        async with asyncio.timeout(10):
            while not any(p.get("user", {}).get("name") == "Ada" for p in bob.peers):
                await bob.changed()
        ada.set_presence(cursor={"x": 3, "y": 4})
        async with asyncio.timeout(10):
            while not any(p.get("cursor") == {"x": 3, "y": 4} for p in bob.peers):
                await bob.changed()

        with ada.transaction():  # one update
            ada.add_node({"id": "n", "type": "constant", "position": {"x": 1, "y": 1}})
            ada.connect("a", "n")
        seen = await bob.wait_for(lambda f: "xy-edge__a-n" in by_id(f["edges"]), timeout=10)
        assert "n" in by_id(seen["nodes"])
        await ada.flush(10)
    setup.close()


def test_a_viewer_is_read_only_and_refusals_raise(server: ServerProcess) -> None:
    client, org_id, flow_id = signed_in(server)
    with client:
        key = client.create_api_key(org_id, "viewer", "viewer")["key"]
        with Client(server.base_url, token=key, retry=FAST) as viewer:
            with viewer.collab(org_id, flow_id) as flow:
                assert [n["id"] for n in flow.flow()["nodes"]] == ["a"]
                flow.move_node("a", 50, 50)
                while not flow.read_only:  # the server's permission-denied (or TimeoutError)
                    flow.changed(10)
            assert client.get_flow(org_id, flow_id)["nodes"][0]["position"] == {"x": 0, "y": 0}
        with pytest.raises(NotFound):
            client.collab(org_id, "flow_missing", timeout=10)


def test_the_sync_face_wakes_for_a_change_that_landed_before_it_waited(
    server: ServerProcess,
) -> None:
    """The caller tests a field in its thread while the session runs in another: a change
    landing between the test and ``changed()`` must wake it (CI once lost the viewer's
    permission-denied that way, and waited out the timeout)."""
    client, org_id, flow_id = signed_in(server)
    with client:
        key = client.create_api_key(org_id, "viewer", "viewer")["key"]
        with (
            Client(server.base_url, token=key, retry=FAST) as viewer,
            viewer.collab(org_id, flow_id) as flow,
        ):
            flow.move_node("a", 50, 50)
            # Wait on the session's own thread, so this thread never looks.
            flow.wait_for(lambda _: flow.session.read_only, timeout=10)
            flow.changed(10)  # returns at once: the refusal came since the last look
            with pytest.raises(TimeoutError):
                flow.changed(0.2)  # nothing new since


def test_edits_made_while_the_server_is_away_reach_it_after_the_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir, {})
    try:
        client, org_id, flow_id = signed_in(server)
        with client, client.collab(org_id, flow_id) as flow:
            flow.move_node("a", 1, 1)
            flow.flush(10)
            server.stop()
            flow.move_node("a", 7, 7)  # offline: sent by the next handshake
            server = start_server(data_dir, {}, port=server.port)
            flow.flush(30)
            assert flow.session.connects == 2
            rest_until(
                client,
                org_id,
                flow_id,
                lambda f: f["nodes"][0]["position"] == {"x": 7, "y": 7},
            )
    finally:
        server.stop()
