"""What the event webhooks' outbox costs a flow save.

    python bench/event_outbox.py [--saves 200] [--slices 5]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Every write transaction that records a watched event (a flow save, a run's end) runs the
store's ``before_commit`` hook (``services/event_webhooks.py``): one ``SELECT`` of the
org's event webhooks, and, for each subscribed webhook, a delivery row and a timer row.
This times sequential ``PUT``s of a 100-node flow (each a new version) through the ASGI
app in one process, three ways in alternating slices: the hook off (``before_commit =
None``, as before event webhooks), the hook on with no event webhook in the org, and the
hook on with one webhook subscribed to ``flow.updated`` (its target a closed local port;
the delivery loop is stopped so only the recording is timed). The median per-save time
of each way over the slices is the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import flow_body

from minibase.app import create_app
from minibase.config import Settings
from minibase.services.event_webhooks import record_deliveries


async def _org(client: httpx.AsyncClient) -> tuple[dict[str, str], str, str]:
    email = f"bench-{secrets.token_hex(4)}@example.com"
    user = (
        await client.post(
            "/v1/auth/signup", json={"email": email, "password": "correct horse battery"}
        )
    ).json()
    headers = {"Authorization": f"Bearer {user['token']}"}
    org = (await client.post("/v1/orgs", json={"name": "bench"}, headers=headers)).json()
    flow = (
        await client.post(f"/v1/orgs/{org['id']}/flows", json=flow_body(), headers=headers)
    ).json()
    return headers, org["id"], flow["id"]


async def _saves(
    client: httpx.AsyncClient, headers: dict[str, str], org_id: str, flow_id: str, n: int
) -> float:
    url = f"/v1/orgs/{org_id}/flows/{flow_id}"
    version = (await client.get(url, headers=headers)).json()["version"]
    body: dict[str, Any] = flow_body()
    start = time.perf_counter()
    for i in range(n):
        body["nodes"][0]["position"]["x"] = i
        answer = await client.put(url, json={**body, "baseVersion": version}, headers=headers)
        assert answer.status_code == 200, answer.text
        version = answer.json()["version"]
    return (time.perf_counter() - start) / n * 1000


async def measure(settings: Settings, args: argparse.Namespace, label: str) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ctx = app.state.ctx
        await ctx.engine.deliverer.close()  # time the recording only
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            plain = await _org(client)
            subscribed = await _org(client)
            made = await client.post(
                f"/v1/orgs/{subscribed[1]}/event-webhooks",
                json={"url": "http://127.0.0.1:9/hook", "events": ["flow.updated"]},
                headers=subscribed[0],
            )
            assert made.status_code == 201, made.text
            ways: dict[str, list[float]] = {
                "hook off": [],
                "hook on, no webhook": [],
                "hook on, 1 webhook": [],
            }
            await _saves(client, *plain, 20)  # warm up
            for _ in range(args.slices):
                ctx.store.before_commit = None
                ways["hook off"].append(await _saves(client, *plain, args.saves))
                ctx.store.before_commit = record_deliveries
                ways["hook on, no webhook"].append(await _saves(client, *plain, args.saves))
                ways["hook on, 1 webhook"].append(await _saves(client, *subscribed, args.saves))
    base = statistics.median(ways["hook off"])
    for way, times in ways.items():
        med = statistics.median(times)
        print(
            f"| {label} | {way} | {med:.2f} ms | {med / base:.2f} | "
            + ", ".join(f"{t:.2f}" for t in times)
            + " |",
            flush=True,
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--slices", type=int, default=5)
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()
    print("| database | way | median ms per save | ratio to hook off | every slice (ms) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        await measure(
            Settings(data_dir=Path(tmp), webhook_allow_private=True, rate_limit_per_second=100000),
            args,
            "SQLite",
        )
    if args.postgres:
        import asyncpg

        name = "mb_bench_" + secrets.token_hex(4)
        dsn = args.postgres.replace("postgresql+asyncpg://", "postgresql://")
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        try:
            target = args.postgres.rsplit("/", 1)[0] + "/" + name
            with tempfile.TemporaryDirectory() as tmp:
                await measure(
                    Settings(
                        data_dir=Path(tmp),
                        database_url=target,
                        webhook_allow_private=True,
                        rate_limit_per_second=100000,
                    ),
                    args,
                    "PostgreSQL",
                )
        finally:
            admin = await asyncpg.connect(dsn)
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
