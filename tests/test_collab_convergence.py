"""Randomized convergence: pycrdt and stock npm clients, random edits and disconnects,
then a restart."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
from pycrdt import Map

from minibase.app import create_app
from minibase.collab import protocol
from minibase.collab.flow_doc import FlowDoc
from minibase.config import Settings
from tests.collab.fakes import canon
from tests.collab.yclient import YClient
from tests.flows_helpers import new_org, node
from tests.servers import serve_in_process
from tests.services import skip_or_fail

CLIENTS = 10
NPM_CLIENTS = 5
INTEROP = Path(__file__).parent / "interop"
ROUNDS = 12
TYPES = ["default", "llm", "shell"]  # "shell" is not allowed: the server removes it


def random_edit(rng: random.Random, client: YClient, me: int, step: int) -> None:
    nodes = list(client.nodes.keys())
    op = rng.choice(["add", "add", "move", "edit", "delete", "edge", "edge", "unedge"])
    if op == "add" or not nodes:
        nid = f"n{me}-{step}"
        client.nodes[nid] = Map(
            {
                "id": nid,
                "type": rng.choice(TYPES),
                "position": {"x": rng.randint(0, 500), "y": 0},
                "data": Map({"label": nid}),
            }
        )
    elif op == "move":
        target = client.nodes[rng.choice(nodes)]
        if isinstance(target, Map):
            target["position"] = {"x": rng.randint(0, 500), "y": rng.randint(0, 500)}
    elif op == "edit":
        target = client.nodes[rng.choice(nodes)]
        if isinstance(target, Map) and isinstance(target.get("data"), Map):
            target["data"]["label"] = f"edited by {me} at {step}"
    elif op == "delete":
        del client.nodes[rng.choice(nodes)]
    elif op == "edge":
        source, target_id = rng.choice(nodes), rng.choice([*nodes, "ghost"])
        eid = f"e{me}-{step}"
        client.edges[eid] = {"id": eid, "source": source, "target": target_id}
    elif client.edges:
        del client.edges[rng.choice(list(client.edges.keys()))]


def state_vector(encoded: bytes) -> dict[str, int]:
    """A Yjs state vector (client id → clock) from its lib0 encoding."""
    decoder = protocol.Decoder(encoded)
    count = decoder.read_varuint()
    vector: dict[str, int] = {}
    for _ in range(count):
        client = decoder.read_varuint()
        vector[str(client)] = decoder.read_varuint()
    return vector


async def converged(
    clients: list[YClient],
    manager: Any,
    org: str,
    flow: str,
    npm: asyncio.subprocess.Process,
    within: float = 60.0,
) -> dict[str, Any]:
    """The common flow, once the server, every pycrdt client and the npm providers agree.

    Agreement is exact, not a quiet period: the same state vector everywhere (every
    update anyone made has reached everyone) and the same materialized flow (deletions,
    which state vectors do not count, too). Under load this takes longer, never wrong.
    """
    assert npm.stdin is not None and npm.stdout is not None
    deadline = time.monotonic() + within
    while True:
        room = manager.loaded(org, flow)
        assert room is not None
        vector = state_vector(room.flow.doc.get_state())
        # The room's own read checks what it integrated first. Reading its FlowDoc directly
        # would refresh entries the pending rules check has not seen, and the check would
        # then miss them (a flaky "shell" node in the final flow, under load).
        expected = canon(room.materialize())
        if all(
            state_vector(c.doc.get_state()) == vector and canon(c.materialize()) == expected
            for c in clients
        ):
            npm.stdin.write(b"report\n")
            await npm.stdin.drain()
            left = max(1.0, deadline - time.monotonic())
            report = json.loads(await asyncio.wait_for(npm.stdout.readline(), left))
            if (
                report["sv"] == vector
                and canon(report["state"]) == expected
                and state_vector(room.flow.doc.get_state()) == vector
            ):
                return expected
        if time.monotonic() > deadline:
            differ = [
                i
                for i, c in enumerate(clients)
                if state_vector(c.doc.get_state()) != vector or canon(c.materialize()) != expected
            ]
            # What tells a stale cache from a missing update: each document read afresh.
            fresh = canon(FlowDoc.from_update(room.flow.doc.get_update()).materialize())
            mine = canon(FlowDoc.from_update(clients[0].doc.get_update()).materialize())
            synced = [state_vector(c.doc.get_state()) == vector for c in clients]
            raise AssertionError(
                f"no convergence: pycrdt clients {differ} differ from {expected}; "
                f"state vectors equal: {synced}; the server's document read afresh: {fresh}; "
                f"client 0: {canon(clients[0].materialize())}, read afresh: {mine}"
            )
        await asyncio.sleep(0.05)  # a poll of exact conditions, under a deadline


def check_rules(flow: dict[str, Any], max_nodes: int) -> None:
    ids = {n["id"] for n in flow["nodes"]}
    assert len(ids) == len(flow["nodes"]) <= max_nodes
    for n in flow["nodes"]:
        assert n["type"] in ("default", "llm")
        assert isinstance(n["position"]["x"], int | float)
    for e in flow["edges"]:
        assert e["source"] in ids and e["target"] in ids


def node_clients_or_skip() -> None:
    if shutil.which("node") is None or not (INTEROP / "node_modules" / "y-websocket").is_dir():
        skip_or_fail("node or tests/interop/node_modules missing (run npm ci in tests/interop)")


async def test_random_edits_converge_obey_rules_and_survive_restart(settings: Settings) -> None:
    node_clients_or_skip()
    rng = random.Random(20261125)
    quick = settings.model_copy(
        update={"collab_version_seconds": 0.05, "collab_unload_seconds": 30}
    )
    max_nodes = 25
    app = create_app(quick, run_migrations=False)
    async with app.router.lifespan_context(app), serve_in_process(app) as host:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            org = await new_org(api)
            await org.patch_settings(maxNodes=max_nodes, allowedNodeTypes=["default", "llm"])
            flow = await org.create_flow("F", [node("a"), node("b")])
            url = f"ws://{host}/v1/collab/{org.id}/{flow['id']}?token={org.admin.token}"
            # Stock npm providers edit at the same time, with their own random disconnects.
            npm = await asyncio.create_subprocess_exec(
                "node",
                str(INTEROP / "random_clients.mjs"),
                f"ws://{host}/v1/collab/{org.id}",
                flow["id"],
                org.admin.token,
                str(NPM_CLIENTS),
                str(ROUNDS),
                "7",
                "2",
                cwd=INTEROP,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            clients = [YClient(url) for _ in range(CLIENTS)]
            await asyncio.gather(*(c.connect() for c in clients))
            for step in range(ROUNDS):
                for me, client in enumerate(clients):
                    random_edit(rng, client, me, step)
                if rng.random() < 0.5:
                    # A random client drops and comes back with an empty document.
                    me = rng.randrange(CLIENTS)
                    await clients[me].close()
                    clients[me] = YClient(url)
                    await clients[me].connect()
                await asyncio.sleep(rng.random() * 0.02)
            assert npm.stdin is not None and npm.stdout is not None
            edited = await asyncio.wait_for(npm.stdout.readline(), 120)
            assert edited == b"edited\n", edited
            manager = app.state.ctx.collab
            final = await converged(clients, manager, org.id, flow["id"], npm)
            npm.stdin.write(b"exit\n")
            await npm.stdin.drain()
            _, err = await asyncio.wait_for(npm.communicate(), 60)
            assert npm.returncode == 0, err.decode()
            check_rules(final, max_nodes)
            await asyncio.gather(*(c.close() for c in clients))

            # The REST flow follows the live document.
            deadline = time.monotonic() + 60
            while True:
                rest = (
                    await api.get(f"{org.flows_url}/{flow['id']}", headers=org.admin.headers)
                ).json()
                if canon(rest) == final:
                    break
                assert time.monotonic() < deadline, "REST did not follow the live document"
                await asyncio.sleep(0.05)

    # A restarted server rebuilds the room exactly from what it stored.
    again = create_app(quick, run_migrations=False)
    async with again.router.lifespan_context(again):
        rebuilt = await again.state.ctx.collab.materialized(org.id, flow["id"])
    assert canon(rebuilt) == final
