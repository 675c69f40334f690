"""Two real server processes on one PostgreSQL and one Redis: changes reach both.

A private redis-server on a free port is started for these tests, so it can be really
stopped and restarted without disturbing anything else.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.process import ServerProcess, free_port
from tests.services import pg_admin, pg_url, postgres_available, skip_or_fail

pytestmark = pytest.mark.slow
TIMEOUT = 15


class RedisServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
            )
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server is not installed")
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def two_instances(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two instances; a test may add settings with ``indirect`` parametrization (a dict)."""
    if not postgres_available():
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    database = f"mbt_multi_{secrets.token_hex(4)}"
    pg_admin(f'CREATE DATABASE "{database}"')
    env = {
        "MINIBASE_DATABASE_URL": pg_url(database),
        "MINIBASE_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
        "MINIBASE_REDIS_PREFIX": f"mbtest{secrets.token_hex(3)}:",
        # One deployment, one master key: without it each instance makes its own key file
        # in its data dir and cannot open the data keys of orgs created on the other.
        "MINIBASE_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        **getattr(request, "param", {}),
    }
    # Both start at once on an empty database: the advisory lock serializes migrations.
    a = ServerProcess(tmp_path / "a", env=env)
    b = ServerProcess(tmp_path / "b", env=env)
    try:
        a.wait_ready(60)
        b.wait_ready(60)
        yield a, b
    finally:
        a.stop()
        b.stop()
        pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def _recv(ws: websockets.ClientConnection, sub_id: str) -> dict[str, object]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if message.get("id") == sub_id:
            return dict(message)


async def _setup(base_url: str) -> tuple[str, str, str]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        signup = await client.post(
            "/v1/auth/signup",
            json={"email": f"m-{secrets.token_hex(3)}@example.com", "password": "multi-instance"},
        )
        token = signup.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        org = (await client.post("/v1/orgs", json={"name": "multi"}, headers=headers)).json()
        flow = (
            await client.post(f"/v1/orgs/{org['id']}/flows", json={"name": "F"}, headers=headers)
        ).json()
    return token, org["id"], flow["id"]


async def _rename(base_url: str, token: str, org: str, flow: str, name: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.patch(
            f"/v1/orgs/{org}/flows/{flow}",
            headers={"Authorization": f"Bearer {token}"},
            json={"ops": [{"op": "rename", "name": name}]},
        )
        assert r.status_code == 200, r.text


async def test_change_on_a_reaches_subscriber_on_b_and_survives_redis_restart(
    two_instances: tuple[ServerProcess, ServerProcess], redis_server: RedisServer
) -> None:
    a, b = two_instances
    token, org, flow = await _setup(a.base_url)
    ws_url = f"ws://127.0.0.1:{b.port}/v1/sync?token={token}"
    async with websockets.connect(ws_url) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "q",
                    "query": "flows.get",
                    "args": {"orgId": org, "flowId": flow},
                }
            )
        )
        assert (await _recv(ws, "q"))["version"] == 1

        await _rename(a.base_url, token, org, flow, "via A")
        update = await _recv(ws, "q")
        assert update["version"] == 2
        assert update["value"]["name"] == "via A"  # type: ignore[index]

        # Redis goes away; a change is made through A meanwhile; Redis comes back.
        redis_server.stop()
        await _rename(a.base_url, token, org, flow, "while Redis was down")
        redis_server.start()
        caught_up = await _recv(ws, "q")
        assert caught_up["version"] == 3
        assert caught_up["value"]["name"] == "while Redis was down"  # type: ignore[index]

        # And the bus works again afterwards, without restarting anything.
        await _rename(a.base_url, token, org, flow, "after")
        again = await _recv(ws, "q")
        assert again["version"] == 4


async def test_collab_editors_on_two_instances_converge(
    two_instances: tuple[ServerProcess, ServerProcess],
) -> None:
    from pycrdt import Map

    from tests.collab.yclient import YClient

    a, b = two_instances
    token, org, flow = await _setup(a.base_url)
    path = f"/v1/collab/{org}/{flow}?token={token}"
    async with (
        YClient(f"ws://127.0.0.1:{a.port}{path}") as on_a,
        YClient(f"ws://127.0.0.1:{b.port}{path}") as on_b,
    ):
        on_a.nodes["x"] = Map({"id": "x", "type": "default", "position": {"x": 1, "y": 1}})
        on_b.nodes["y"] = Map({"id": "y", "type": "default", "position": {"x": 2, "y": 2}})
        await on_a.wait_for(lambda: "y" in on_a.nodes, within=TIMEOUT)
        await on_b.wait_for(lambda: "x" in on_b.nodes, within=TIMEOUT)
        # A REST write through A reaches the editor on B.
        await _rename(a.base_url, token, org, flow, "renamed on A")
        await on_b.wait_for(
            lambda: on_b.flow.materialize()["name"] == "renamed on A", within=TIMEOUT
        )
    # Both instances' edits end up in the REST flow, exactly once each.
    async with httpx.AsyncClient(base_url=b.base_url) as client:
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + TIMEOUT
        while True:
            body = (await client.get(f"/v1/orgs/{org}/flows/{flow}", headers=headers)).json()
            if sorted(n["id"] for n in body["nodes"]) == ["x", "y"]:
                break
            assert time.monotonic() < deadline, body
            await asyncio.sleep(0.05)
        assert body["name"] == "renamed on A"


SOCKETS_PER_INSTANCE = 500
EDITORS_PER_INSTANCE = 10
MOVES = 3
CONNECTING_AT_ONCE = 50


def _position(index: int, step: int) -> dict[str, int]:
    return {"x": 10 * step, "y": 10 * index}


def _nodes_of(flow: dict[str, Any]) -> dict[str, tuple[object, object]]:
    """A flow's nodes as id -> (position, data): what the edits below change."""
    return {n["id"]: (n["position"], n.get("data")) for n in flow["nodes"]}


@pytest.mark.parametrize(
    "two_instances",
    # The connection cap (HTTP and WebSocket together, per instance) must hold 500 collab
    # sockets and the REST requests: stated, not left to the default. Collab sockets have
    # no per-user cap and edits no rate limit (only awareness frames have one); versions
    # sooner than the 2 s default, so REST catches up sooner.
    [{"MINIBASE_MAX_CONNECTIONS": "1000", "MINIBASE_COLLAB_VERSION_SECONDS": "0.2"}],
    indirect=True,
    ids=["500-per-instance"],
)
async def test_1000_collab_editors_on_two_instances_converge(
    two_instances: tuple[ServerProcess, ServerProcess],
) -> None:
    """1,000 sockets on one flow, 500 per instance; 10 per instance edit, interleaved.

    Every editor adds a node, moves it ``MOVES`` times, and sets ``data`` on the node of
    its peer on the other instance once that node reached it. All 1,000 documents must
    end equal to the expected flow, and so must the REST flow on both instances.
    """
    from pycrdt import Map

    from tests.collab.yclient import YClient
    from tests.helpers import User
    from tests.together_helpers import add_member

    a, b = two_instances
    token, org, flow = await _setup(a.base_url)
    async with httpx.AsyncClient(base_url=a.base_url) as client:
        owner = User(id="", email="", token=token)
        members = [await add_member(client, owner, org, "editor") for _ in range(3)]
    tokens = [token, *(m.token for m in members)]

    def url(server: ServerProcess, n: int) -> str:
        return f"ws://127.0.0.1:{server.port}/v1/collab/{org}/{flow}?token={tokens[n % 4]}"

    on_a = [YClient(url(a, n)) for n in range(SOCKETS_PER_INSTANCE)]
    on_b = [YClient(url(b, n)) for n in range(SOCKETS_PER_INSTANCE)]
    everyone = on_a + on_b
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

    async def connect(c: YClient) -> None:
        async with gate:
            await c.connect()  # returns once synced: in the room's broadcast

    started = time.monotonic()
    try:
        await asyncio.gather(*(connect(c) for c in everyone))
        connected = time.monotonic()
        # Editor i on A owns node "a{i}", its peer on B owns "b{i}".
        editors = [(c, f"a{i}", f"b{i}", i) for i, c in enumerate(on_a[:EDITORS_PER_INSTANCE])]
        editors += [(c, f"b{i}", f"a{i}", i) for i, c in enumerate(on_b[:EDITORS_PER_INSTANCE])]
        expected = {mine: (_position(i, MOVES), {"by": peer}) for _, mine, peer, i in editors}

        async def edit(me: YClient, mine: str, peer: str, i: int) -> None:
            def add() -> None:
                me.nodes[mine] = Map({"id": mine, "type": "default", "position": _position(i, 0)})

            def set_field(node: str, key: str, value: object) -> None:
                me.nodes[node][key] = value

            await me.edit(add, within=TIMEOUT)
            for step in range(1, MOVES + 1):
                await me.edit(partial(set_field, mine, "position", _position(i, step)), TIMEOUT)
            await me.wait_for(lambda: peer in me.nodes, within=TIMEOUT)
            await me.edit(partial(set_field, peer, "data", {"by": mine}), TIMEOUT)

        # All 20 edit at once; each waits for a broadcast between its own edits.
        await asyncio.gather(*(edit(*e) for e in editors))
        edited = time.monotonic()

        def converged(c: YClient) -> bool:
            return _nodes_of(c.materialize()) == expected

        await asyncio.gather(
            *(c.wait_for(lambda c=c: converged(c), within=TIMEOUT) for c in everyone)
        )
        done = time.monotonic()
        assert all(c.close_code is None for c in everyone)  # nobody was dropped
        assert all(converged(c) for c in everyone)
    finally:
        await asyncio.gather(*(c.close() for c in everyone), return_exceptions=True)
    print(
        f"connect {connected - started:.1f}s, edits {edited - connected:.1f}s, "
        f"converged {done - edited:.1f}s"
    )
    # The REST flow on either instance ends with the same nodes.
    headers = {"Authorization": f"Bearer {token}"}
    for server in (a, b):
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            deadline = time.monotonic() + TIMEOUT
            while True:
                body = (await client.get(f"/v1/orgs/{org}/flows/{flow}", headers=headers)).json()
                if _nodes_of(body) == expected:
                    break
                wrong = {k: v for k, v in _nodes_of(body).items() if expected.get(k) != v}
                assert time.monotonic() < deadline, (server.port, body.get("version"), wrong)
                await asyncio.sleep(0.05)
