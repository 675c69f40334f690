"""The seed's hybrid-state calls (sync_flow, load_flow, subscribe_to_updates) and a run's
progress streamed live (watch_run), sync and async, against a real server."""

from __future__ import annotations

import secrets

from minibase.client import AsyncClient, Client, Retry
from tests.process import ServerProcess

FAST = Retry(attempts=4, backoff=0.05, max_backoff=0.5)
CHAIN = [
    {"id": "x", "type": "constant", "position": {"x": 0, "y": 0}, "data": {"value": {"x": 4}}},
    {"id": "double", "type": "math", "position": {"x": 1, "y": 0}, "data": {"expression": "x * 2"}},
]
EDGES = [{"id": "x-double", "source": "x", "target": "double"}]


def signed_in(server: ServerProcess) -> tuple[Client, str]:
    client = Client(server.base_url, retry=FAST)
    client.signup(f"hybrid-{secrets.token_hex(4)}@example.com", "hybrid password 12")
    return client, client.create_org("Hybrid")["id"]


def test_sync_load_and_subscribe(server: ServerProcess) -> None:
    client, org_id = signed_in(server)
    with client:
        local = {"name": "Local", "nodes": [{**CHAIN[0], "selected": True}], "edges": []}
        created = client.sync_flow(org_id, local)  # no id: created
        assert created["version"] == 1 and "selected" not in created["nodes"][0]
        with client.subscribe_to_updates(org_id, created["id"]) as live:
            assert live.next(10)["version"] == 1
            edited = {**created, "nodes": [*created["nodes"], {**CHAIN[1], "dragging": True}]}
            saved = client.sync_flow(org_id, edited)  # has id and version: saved on it
            assert saved["version"] == 2 and [n["id"] for n in saved["nodes"]] == ["x", "double"]
            assert all("dragging" not in n for n in saved["nodes"])
            assert live.next(10)["version"] == 2
        stale = {**created, "name": "Renamed on a stale base"}  # version 1: merged
        merged = client.sync_flow(org_id, stale)
        assert merged["name"] == "Renamed on a stale base" and len(merged["nodes"]) == 2
        loaded = client.load_flow(org_id, created["id"])
        assert (loaded["version"], loaded["nodes"]) == (merged["version"], merged["nodes"])


def test_watch_run_streams_until_finished(server: ServerProcess) -> None:
    client, org_id = signed_in(server)
    with client:
        flow = client.create_flow(org_id, "Math", nodes=CHAIN, edges=EDGES)
        run = client.start_run(org_id, flow["id"])
        states = list(client.watch_run(org_id, run["id"], timeout=60))
        assert states and states[-1]["status"] == "succeeded"
        assert all(s["status"] not in {"succeeded", "failed"} for s in states[:-1])
        assert {n["nodeId"]: n["status"] for n in states[-1]["nodes"]} == {
            "x": "succeeded",
            "double": "succeeded",
        }


async def test_async_watch_run_and_sync_flow(server: ServerProcess) -> None:
    setup, org_id = signed_in(server)
    async with AsyncClient(server.base_url, token=setup.token, retry=FAST) as client:
        flow = await client.sync_flow(org_id, {"name": "Async", "nodes": CHAIN, "edges": EDGES})
        assert (await client.load_flow(org_id, flow["id"]))["version"] == 1
        async with client.subscribe_to_updates(org_id, flow["id"]) as live:
            assert (await anext(live))["id"] == flow["id"]
        run = await client.start_run(org_id, flow["id"])
        states = [state async for state in client.watch_run(org_id, run["id"], timeout=60)]
        assert states[-1]["status"] == "succeeded" and len(states[-1]["nodes"]) == 2
    setup.close()
