"""Live queries through the SDK against a real server: sync and async, several on one
socket, refusals, and a subscription that outlives a server restart."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import pytest

from minibase.client import (
    AsyncClient,
    Client,
    MinibaseClientError,
    NotFound,
    Retry,
    Unauthenticated,
)
from tests.process import ServerProcess
from tests.sdk.conftest import start_server

FAST = Retry(attempts=4, backoff=0.05, max_backoff=0.5)


def signed_in(server: ServerProcess) -> tuple[Client, str, str]:
    client = Client(server.base_url, retry=FAST)
    client.signup(f"live-{secrets.token_hex(4)}@example.com", "live password 12")
    org = client.create_org("Live")
    flow = client.create_flow(org["id"], "Watched")
    return client, org["id"], flow["id"]


def rename(client: Client, org_id: str, flow_id: str, name: str) -> dict[str, Any]:
    return dict(client.patch_flow(org_id, flow_id, [{"op": "rename", "name": name}]))


def test_sync_subscriptions_share_one_socket(server: ServerProcess) -> None:
    client, org_id, flow_id = signed_in(server)
    with client:
        flow = client.subscribe("flows.get", orgId=org_id, flowId=flow_id)
        flows = client.subscribe("flows.list", orgId=org_id)
        assert flow.next(10)["version"] == 1  # the confirmation: the value now
        assert [f["id"] for f in flows.next(10)["items"]] == [flow_id]
        rename(client, org_id, flow_id, "Renamed")
        value = flow.next(10)
        assert (value["name"], value["version"]) == ("Renamed", 2)
        assert flows.next(10)["items"][0]["name"] == "Renamed"
        flows.close()
        rename(client, org_id, flow_id, "Again")
        assert flow.next(10)["version"] == 3
        assert client._live.socket.connects == 1
        flow.close()
        assert list(flow) == []  # a closed subscription ends its iteration


def test_sync_subscribe_raises_the_refusal(server: ServerProcess) -> None:
    client, org_id, _ = signed_in(server)
    with client, pytest.raises(NotFound) as refused:
        client.subscribe("flows.get", orgId=org_id, flowId="flow_missing")
    assert refused.value.code == "not_found"


async def test_async_for_and_await(server: ServerProcess) -> None:
    setup, org_id, flow_id = signed_in(server)
    async with AsyncClient(server.base_url, token=setup.token, retry=FAST) as client:
        sub = await client.subscribe("flows.get", orgId=org_id, flowId=flow_id)
        versions = []
        async with asyncio.timeout(10):
            async for value in sub:
                versions.append(value["version"])
                if value["version"] == 1:
                    await client.patch_flow(org_id, flow_id, [{"op": "rename", "name": "x"}])
                else:
                    break
        assert versions == [1, 2]
        with pytest.raises(NotFound):
            await client.subscribe("flows.get", orgId=org_id, flowId="flow_missing")
    setup.close()


async def test_a_revoked_token_ends_the_subscription(server: ServerProcess) -> None:
    setup, org_id, flow_id = signed_in(server)
    email = setup.me()["user"]["email"]
    session = setup.login(email, "live password 12")
    async with AsyncClient(server.base_url, token=session["token"], retry=FAST) as client:
        sub = await client.subscribe("flows.get", orgId=org_id, flowId=flow_id)
        assert (await anext(sub))["version"] == 1
        await client.logout()
        with pytest.raises(Unauthenticated):
            async with asyncio.timeout(10):
                await anext(sub)
        # Signed in again: a new subscription opens a new socket.
        client.token = setup.login(email, "live password 12")["token"]
        again = await client.subscribe("flows.get", orgId=org_id, flowId=flow_id)
        assert (await anext(again))["version"] == 1
    setup.close()


def test_a_subscription_survives_a_server_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir, {})
    client, org_id, flow_id = signed_in(server)
    try:
        with client:
            live = client.subscribe("flows.get", orgId=org_id, flowId=flow_id)
            assert live.next(10)["version"] == 1
            server.stop()
            server = start_server(data_dir, {}, port=server.port)
            rename(client, org_id, flow_id, "After the restart")
            value = live.next(30)
            assert (value["name"], value["version"]) == ("After the restart", 2)
            assert client._live.socket.connects >= 2
    finally:
        server.stop()


def test_subscribing_on_a_closed_client_raises_instead_of_hanging(server: ServerProcess) -> None:
    client, org_id, flow_id = signed_in(server)
    client.close()
    with pytest.raises(MinibaseClientError):
        client.subscribe("flows.get", orgId=org_id, flowId=flow_id)
    with pytest.raises(MinibaseClientError):
        client.collab(org_id, flow_id, timeout=10)
