"""Analytics of a large org, and the cost of a ``/metrics`` scrape.

    python bench/analytics.py [--runs 100000] [--nodes 10] [--flows 20] [--repeat 15]
                              [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Part 1: an org with ``--runs`` runs of ``--flows`` chain flows of ``--nodes`` nodes each
(``runs x nodes`` run_nodes rows and as many node outputs) is analysed over its whole
range ``--repeat`` times: p50 and p95 of ``services.analytics.analytics``. The baseline,
measured in the same invocation on the same rows, is one ``count(*), sum(compute_time)``
over the org's run nodes (one scan), so the ratio says how many scans the analytics cost.
SQLite always; PostgreSQL too with ``--postgres`` (a scratch database is created beside
the one named, and dropped).

The same analytics are then asked for over HTTP, ``GET /v1/orgs/{orgId}/analytics``
through the whole app (a signed-up admin of the org), ``--repeat`` times: p50 and p95 per
request.

Part 2: ``GET /metrics`` of an app that has answered requests on 40 route templates, as
a loopback ASGI call, against ``GET /healthz`` in the same loop.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import func, insert, text

from minibase.app import create_app
from minibase.config import Settings
from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.services import analytics
from minibase.store import analytics_rollups
from minibase.store.database import Database
from minibase.store.migrate import migrate
from minibase.store.tables import (
    flows,
    memberships,
    node_outputs,
    organizations,
    run_nodes,
    runs,
)
from minibase.store.unit_of_work import Store, prepared, scoped_insert

BATCH = 1000
DAY = 86_400_000
_INSERT_RUN = prepared(scoped_insert(runs))
_INSERT_NODE = prepared(scoped_insert(run_nodes))
_INSERT_OUTPUT = prepared(scoped_insert(node_outputs))


def _p(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[max(0, (len(ordered) * pct + 99) // 100 - 1)]


async def _fill(store: Store, org_id: str, args: argparse.Namespace) -> tuple[int, int]:
    now = now_ms()
    rng = random.Random(7)
    async with store.tenant(org_id, SYSTEM, write=True) as uow:
        await uow.execute(
            insert(organizations).values(
                id=org_id,
                name="bench",
                settings={},
                plan="enterprise",
                nodes_used=0,
                flows_created=0,
                storage_used=0,
                created_at=now,
                updated_at=now,
            )
        )
        for f in range(args.flows):
            nodes = [
                {"id": f"n{i}", "type": f"t{i % 5}", "position": {"x": i, "y": 0}, "data": {}}
                for i in range(args.nodes)
            ]
            edges = [
                {"id": f"e{i}", "source": f"n{i}", "target": f"n{i + 1}"}
                for i in range(args.nodes - 1)
            ]
            doc = orjson.dumps({"nodes": nodes, "edges": edges})
            await uow.execute(
                uow.insert(
                    flows,
                    id=f"flow_{f}",
                    name=f"flow {f}",
                    document=doc,
                    node_count=args.nodes,
                    edge_count=args.nodes - 1,
                    size_bytes=len(doc),
                    history_bytes=0,
                    version=1,
                    created_by="usr_bench",
                    created_at=now - 300 * DAY,
                    last_modified=now,
                    deleted_at=None,
                )
            )
    start = now - 300 * DAY
    step = (300 * DAY) // args.runs
    run_rows: list[dict[str, Any]] = []
    node_rows: list[dict[str, Any]] = []
    output_rows: list[dict[str, Any]] = []

    async def flush() -> None:
        # One prepared statement per table, every row a parameter set of one call (one
        # round trip on PostgreSQL): a full-size fill takes minutes, not an hour.
        async with store.tenant(org_id, SYSTEM, write=True) as uow:
            for statement, rows in (
                (_INSERT_RUN, run_rows),
                (_INSERT_NODE, node_rows),
                (_INSERT_OUTPUT, output_rows),
            ):
                await uow.execute(statement, rows)
        run_rows.clear()
        node_rows.clear()
        output_rows.clear()

    for r in range(args.runs):
        created = start + r * step
        flow = f"flow_{r % args.flows}"
        run_id = f"run_{r}"
        failed = rng.random() < 0.03
        run_rows.append(
            {
                "id": run_id,
                "flow_id": flow,
                "flow_version": 1,
                "status": "failed" if failed else "succeeded",
                "trigger_type": "manual",
                "trigger_id": None,
                "dedupe_key": None,
                "created_by": "usr_bench",
                "created_at": created,
                "started_at": created,
                "finished_at": created + rng.randint(50, 5000),
                "error": None,
                "spec": b"{}",
                "cancel_requested": False,
                "attempts": 1,
                "compute_ms": 0.0,
            }
        )
        for i in range(args.nodes):
            ms = rng.expovariate(1 / (50 * (i % 5 + 1)))
            out_id = f"out_{r}_{i}"
            node_rows.append(
                {
                    "run_id": run_id,
                    "node_id": f"n{i}",
                    "position": i,
                    "type": f"t{i % 5}",
                    "status": "failed" if failed and i == args.nodes - 1 else "succeeded",
                    "cached": False,
                    "started_at": created,
                    "finished_at": created + int(ms),
                    "compute_time": ms,
                    "output_id": out_id,
                    "error": None,
                }
            )
            output_rows.append(
                {
                    "id": out_id,
                    "flow_id": flow,
                    "node_id": f"n{i}",
                    "output": b'{"v":1}',
                    "timestamp": created,
                    "compute_time": ms,
                    "size_bytes": 7,
                    "run_id": run_id,
                    "cached": False,
                    "cache_key": f"k{r % 7}_{i}",
                }
            )
        if len(node_rows) >= 50 * BATCH:
            await flush()
    await flush()
    return start, now


async def _measure_analytics(settings: Settings, args: argparse.Namespace, label: str) -> None:
    await migrate(settings)
    database = Database(settings)
    store = Store(database)
    org_id = "org_bench_" + secrets.token_hex(4)
    started = time.perf_counter()
    start, end = await _fill(store, org_id, args)
    filled = time.perf_counter() - started
    # The rows went in raw (as in a database from before the rollups): build them as the
    # migration's backfill does.
    started = time.perf_counter()
    async with store.tenant(org_id, SYSTEM, write=True) as uow:
        await analytics_rollups.rebuild(uow)
    built = time.perf_counter() - started
    if database.is_postgres:
        async with database.transaction(write=True) as conn:
            await conn.execute(text("ANALYZE"))
    window = analytics.Range(start, end + 1, None)

    async def scan() -> None:
        async with store.tenant(org_id, SYSTEM) as uow:
            await uow.execute(
                uow.select(run_nodes, func.count(), func.sum(run_nodes.c.compute_time))
            )

    async def analyse() -> dict[str, Any]:
        return await analytics.analytics(store, org_id, SYSTEM, window)

    base: list[float] = []
    timed: list[float] = []
    await scan()
    result = await analyse()
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        await scan()
        base.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await analyse()
        timed.append(time.perf_counter() - t0)
    await database.close()
    http = await _measure_http(settings, org_id, start, end + 1, args.repeat)
    rows = args.runs * args.nodes
    print(
        f"| {label} | {args.runs:,} runs, {rows:,} run nodes + {rows:,} outputs "
        f"(filled in {filled:.0f} s, rollups built in {built:.0f} s) "
        f"| {_p(base, 50) * 1000:.0f} / {_p(base, 95) * 1000:.0f} ms "
        f"| {_p(timed, 50) * 1000:.0f} / {_p(timed, 95) * 1000:.0f} ms "
        f"| {_p(http, 50) * 1000:.0f} / {_p(http, 95) * 1000:.0f} ms "
        f"| {_p(timed, 50) / _p(base, 50):.1f} | {len(result['suggestions'])} |",
        flush=True,
    )


async def _measure_http(
    settings: Settings, org_id: str, start: int, end: int, repeat: int
) -> list[float]:
    """``GET /v1/orgs/{orgId}/analytics`` answered by the whole app (auth, the role check,
    JSON): the time per request, as a client sees it over a loopback ASGI call."""
    app = create_app(settings, run_migrations=False)
    timed: list[float] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
            signed = await client.post(
                "/v1/auth/signup",
                json={"email": f"bench-{org_id}@example.com", "password": "bench-password-1"},
            )
            signed.raise_for_status()
            user, token = signed.json()["user"], signed.json()["token"]
            async with app.state.ctx.store.tenant(org_id, SYSTEM, write=True) as uow:
                await uow.execute(
                    uow.insert(memberships, user_id=user["id"], role="admin", created_at=now_ms())
                )
            url = f"/v1/orgs/{org_id}/analytics"
            params = {"from": start, "to": end}
            headers = {"Authorization": f"Bearer {token}"}
            (await client.get(url, params=params, headers=headers)).raise_for_status()
            for _ in range(repeat):
                t0 = time.perf_counter()
                response = await client.get(url, params=params, headers=headers)
                timed.append(time.perf_counter() - t0)
                response.raise_for_status()
    return timed


async def _postgres(url: str, args: argparse.Namespace) -> None:
    import asyncpg

    name = "mb_bench_" + secrets.token_hex(4)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        target = url.rsplit("/", 1)[0] + "/" + name
        with tempfile.TemporaryDirectory() as tmp:
            await _measure_analytics(
                Settings(data_dir=Path(tmp), database_url=target), args, "PostgreSQL"
            )
    finally:
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def _route_templates(app: Any) -> list[str]:
    """Every GET route's template as served (FastAPI >= 0.165 keeps included routers
    unflattened: their routes are reached through ``effective_route_contexts``)."""
    found: list[str] = []
    for route in app.routes:
        if "GET" in (getattr(route, "methods", None) or ()):
            found.append(route.path)
        elif hasattr(route, "effective_route_contexts"):
            found += [c.path for c in route.effective_route_contexts() if "GET" in c.methods]
    return sorted(set(found))


async def _metrics_scrape(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        await migrate(settings)
        app = create_app(settings, run_migrations=False)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                templates = _route_templates(app)[:40]
                for path in templates:
                    for _ in range(5):
                        await client.get(path.replace("{", "x").replace("}", ""))
                for _ in range(20):
                    await client.get("/metrics")
                    await client.get("/healthz")
                health: list[float] = []
                scrape: list[float] = []
                size = 0
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    await client.get("/healthz")
                    health.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    response = await client.get("/metrics")
                    scrape.append(time.perf_counter() - t0)
                    size = len(response.content)
    print(
        f"| `GET /metrics` ({size / 1000:.0f} kB, {len(templates)} route templates) "
        f"| {statistics.median(health) * 1000:.2f} ms | {statistics.median(scrape) * 1000:.2f} ms "
        f"| {statistics.median(scrape) / statistics.median(health):.1f} |",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--flows", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--skip-analytics", action="store_true")
    args = parser.parse_args()
    if not args.skip_analytics:
        print(
            "| database | org | one scan p50 / p95 | analytics p50 / p95 "
            "| `GET .../analytics` p50 / p95 | ratio | suggestions |"
        )
        print("|---|---|---|---|---|---|---|")
        with tempfile.TemporaryDirectory() as tmp:
            await _measure_analytics(Settings(data_dir=Path(tmp)), args, "SQLite")
        if args.postgres:
            await _postgres(args.postgres, args)
    print()
    print("| scrape | `GET /healthz` (baseline) | `GET /metrics` | ratio |")
    print("|---|---|---|---|")
    await _metrics_scrape(200)


if __name__ == "__main__":
    asyncio.run(main())
