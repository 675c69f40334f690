"""Two real server processes on one PostgreSQL and one Redis: changes reach both.

A private redis-server on a free port is started for these tests, so it can be really
stopped and restarted without disturbing anything else.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

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
    tmp_path: Path, redis_server: RedisServer
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    if not postgres_available():
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    database = f"mbt_multi_{secrets.token_hex(4)}"
    pg_admin(f'CREATE DATABASE "{database}"')
    env = {
        "MINIBASE_DATABASE_URL": pg_url(database),
        "MINIBASE_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
        "MINIBASE_REDIS_PREFIX": f"mbtest{secrets.token_hex(3)}:",
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
