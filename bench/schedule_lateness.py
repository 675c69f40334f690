"""Schedule fire accuracy: how late runs of cron schedules start, on SQLite and PostgreSQL.

A real ``minibase serve`` (running flows itself, so a run's start is measured too) gets
``--schedules`` schedules firing every second (``* * * * * *``), spread over ``--orgs``
organizations, each on a two-node flow (constant -> output). After a warm-up, the
schedules fire for ``--seconds``; then every run they started is read from the database.
A run's fire time is in its dedupe key (``schedule:<id>:<fire time ms>``), so for each
fire time:

- queued lateness = the run row's ``created_at`` - the fire time (the scheduler's part);
- started lateness = ``started_at`` - the fire time (plus the run worker's pick-up);
- skipped = fire times with no run of their own (collapsed into a later catch-up run).

The baseline, measured in the same invocation while the server runs: a bare asyncio loop
in this process sleeping to each second boundary, whose lateness is the machine's own
timer and scheduling noise.

    python bench/schedule_lateness.py [--backend sqlite|postgres|both] [--schedules 20]
        [--orgs 1] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import BENCH_ADMIN, BENCH_PASSWORD, running_server

WARM_UP_SECONDS = 3


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _setup(base_url: str, schedules: int, orgs: int) -> tuple[dict[str, str], list[str]]:
    """Sign up, make ``orgs`` orgs with a flow each, and ``schedules`` schedules (round
    robin); returns the auth headers and the schedules' URLs."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        credentials = {"email": BENCH_ADMIN, "password": BENCH_PASSWORD}
        token = (await client.post("/v1/auth/signup", json=credentials)).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        flows = []
        for i in range(orgs):
            org = await client.post(
                "/v1/orgs", json={"name": f"lateness {i}", "plan": "enterprise"}, headers=headers
            )
            org_id = org.json()["id"]
            document = {
                "name": "every second",
                "nodes": [
                    {"id": "c", "type": "constant", "position": {"x": 0, "y": 0}, "data": {}},
                    {"id": "o", "type": "output", "position": {"x": 0, "y": 0}, "data": {}},
                ],
                "edges": [{"id": "c-o", "source": "c", "target": "o"}],
            }
            flow = await client.post(f"/v1/orgs/{org_id}/flows", json=document, headers=headers)
            flows.append(f"/v1/orgs/{org_id}/flows/{flow.json()['id']}/schedules")
        urls = []
        for i in range(schedules):
            base = flows[i % orgs]
            made = await client.post(base, json={"cron": "* * * * * *"}, headers=headers)
            if made.status_code != 201:
                raise RuntimeError(made.text)
            urls.append(f"{base}/{made.json()['id']}")
        return headers, urls


async def _disable(base_url: str, headers: dict[str, str], urls: list[str]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for url in urls:
            await client.patch(url, json={"enabled": False}, headers=headers)


async def _baseline(seconds: float) -> list[float]:
    """Lateness (ms) of a bare asyncio loop sleeping to each second boundary."""
    late = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        target = int(time.time()) + 1
        await asyncio.sleep(target - time.time())
        late.append((time.time() - target) * 1000)
    return late


QUERY = (
    "SELECT dedupe_key, created_at, started_at FROM runs "
    "WHERE trigger_type = 'schedule' AND created_at >= {since}"
)


async def _runs(backend: str, server: Any, since: int) -> list[tuple[str, int, int | None]]:
    if backend == "sqlite":
        path = server.log_path.parent / "data" / "minibase.db"
        with sqlite3.connect(path) as db:
            return list(db.execute(QUERY.format(since=since)).fetchall())
    url = server.env["MINIBASE_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(QUERY.format(since=since))
        return [(r["dedupe_key"], r["created_at"], r["started_at"]) for r in rows]
    finally:
        await conn.close()


def measure(backend: str, schedules: int, orgs: int, seconds: int) -> dict[str, Any]:
    env = {"MINIBASE_RUN_IN_SERVER": "always"}
    # The server (and its PostgreSQL database) is made outside the event loop.
    with running_server(backend, env) as server:
        return asyncio.run(_measure(server, backend, schedules, orgs, seconds))


async def _measure(
    server: Any, backend: str, schedules: int, orgs: int, seconds: int
) -> dict[str, Any]:
    headers, urls = await _setup(server.base_url, schedules, orgs)
    await asyncio.sleep(WARM_UP_SECONDS)
    since = int(time.time() * 1000)
    baseline = await _baseline(seconds)
    until = int(time.time() * 1000)
    await _disable(server.base_url, headers, urls)
    rows = await _runs(backend, server, since)
    fires: dict[str, set[int]] = {}
    queued, started = [], []
    for dedupe_key, created_at, started_at in rows:
        _, schedule_id, fire_at = dedupe_key.split(":")
        fire = int(fire_at)
        if fire >= until:
            continue
        fires.setdefault(schedule_id, set()).add(fire)
        queued.append(created_at - fire)
        if started_at is not None:
            started.append(started_at - fire)
    expected = sum((max(times) - min(times)) // 1000 + 1 for times in fires.values() if times)
    return {
        "backend": backend,
        "runs": len(queued),
        "skipped": expected - len(queued),
        "queued": queued,
        "started": started,
        "baseline": baseline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--schedules", type=int, default=20)
    parser.add_argument("--orgs", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    print(
        f"command: python bench/schedule_lateness.py --backend {args.backend} "
        f"--schedules {args.schedules} --orgs {args.orgs} --seconds {args.seconds}"
    )
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print(
        "| backend | schedules / orgs | runs | skipped fire times | queued p50 / p99 / max ms "
        "| started p50 / p99 / max ms | baseline loop p50 / p99 / max ms |"
    )
    print("|---|---|---|---|---|---|---|")
    for backend in backends:
        r = measure(backend, args.schedules, args.orgs, args.seconds)

        def cell(values: list[float]) -> str:
            return (
                f"{percentile(values, 0.5):.0f} / {percentile(values, 0.99):.0f} / "
                f"{max(values, default=float('nan')):.0f}"
            )

        print(
            f"| {backend} | {args.schedules} / {args.orgs} | {r['runs']} | {r['skipped']} | "
            f"{cell(r['queued'])} | {cell(r['started'])} | {cell(r['baseline'])} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
