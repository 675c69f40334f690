"""Shared by the benchmarks: a real ``minibase serve`` process and a seeded org."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.process import ServerProcess  # noqa: E402
from tests.services import pg_admin, pg_url  # noqa: E402

BENCH_ADMIN = "bench-admin@example.com"
BENCH_PASSWORD = "benchmark-password"


@contextmanager
def running_server(
    backend: str, extra_env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """A server on SQLite (temp data dir) or on a fresh PostgreSQL database."""
    with tempfile.TemporaryDirectory(prefix="minibase-bench-") as tmp:
        env = {
            "MINIBASE_LOG_LEVEL": "warning",
            "MINIBASE_RATE_LIMIT_PER_SECOND": "1000000",
            # The seeded org is on the enterprise plan, which only an instance admin may pick.
            "MINIBASE_INSTANCE_ADMINS": BENCH_ADMIN,
            # Fan-out and idle-socket runs hold thousands of sockets on one instance.
            "MINIBASE_MAX_CONNECTIONS": "100000",
            **(extra_env or {}),
        }
        database = ""
        if backend == "postgres":
            database = f"mbbench_{secrets.token_hex(4)}"
            pg_admin(f'CREATE DATABASE "{database}"')
            env["MINIBASE_DATABASE_URL"] = pg_url(database)
        server = ServerProcess(Path(tmp) / "data", env={**os.environ, **env})
        try:
            server.wait_ready(60)
            yield server
        finally:
            server.stop()
            if database:
                pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def flow_body(nodes: int = 100) -> dict[str, Any]:
    return {
        "name": "bench",
        "nodes": [
            {
                "id": f"n{i}",
                "type": "default",
                "position": {"x": i * 10, "y": i * 5},
                "data": {"label": f"Node {i}", "params": {"k": i, "text": "x" * 40}},
            }
            for i in range(nodes)
        ],
        "edges": [
            {"id": f"e{i}", "source": f"n{i}", "target": f"n{i + 1}", "type": "smoothstep"}
            for i in range(nodes - 1)
        ],
    }


async def seed(base_url: str, nodes: int = 100) -> dict[str, str]:
    """Sign up, create an org and a flow; return ids and the token."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        credentials = {"email": BENCH_ADMIN, "password": BENCH_PASSWORD}
        r = await client.post("/v1/auth/signup", json=credentials)
        if r.status_code != 201:  # signed up by an earlier seed of this server
            r = await client.post("/v1/auth/login", json=credentials)
        token = r.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        org = (
            await client.post(
                "/v1/orgs", json={"name": "bench", "plan": "enterprise"}, headers=headers
            )
        ).json()
        flow = (
            await client.post(f"/v1/orgs/{org['id']}/flows", json=flow_body(nodes), headers=headers)
        ).json()
        return {"token": token, "org": org["id"], "flow": flow["id"]}


def seed_sync(base_url: str, nodes: int = 100) -> dict[str, str]:
    return asyncio.run(seed(base_url, nodes))
