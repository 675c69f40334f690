"""Spike (issue 13): Minibase's own run queue under the tests DBOS and procrastinate took.

    .venv/bin/python bench/spikes/minibase_spike.py kill [--steps 50] [--step-seconds 0.05]
        [--signal kill|stop]
    .venv/bin/python bench/spikes/minibase_spike.py schedule [--seconds 60]

Driven through the real code: a scratch PostgreSQL database (``spike_minibase`` beside
``--admin``), migrated; the API served in this process (it executes nothing:
``run_in_server=never``, no scheduler); runs executed by two ``minibase worker``
subprocesses, started as ``tests/engine/workers.py`` starts them.

- ``kill``: a flow of a ``constant`` and ``--steps`` ``delay`` nodes in a chain (each
  node's completion is a row of the node outputs table); the worker holding the run's
  lease (``run_queue.lease_owner`` names its pid) is SIGKILLed after a third of the nodes
  succeeded; the other worker takes the run over once the lease lapses
  (``MINIBASE_RUN_LEASE_SECONDS``, 1.5 s here). Checks: the run succeeds, every node has
  exactly one output row, nodes finished before the kill kept their start times.
  ``--signal stop`` SIGSTOPs it instead (stalled, not dead) and SIGCONTs it once the other
  worker holds the run: the stale worker must record nothing more.
- ``--sqlite`` (before the command): the embedded default instead, a SQLite data dir; for
  ``kill``, one worker, SIGKILLed and started again (what a restarted server does).
- ``schedule``: the same two workers, both running the scheduler, and a schedule firing
  every second, for ``--seconds``; runs per fire time (the run's dedupe key).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from minibase.app import create_app
from minibase.config import Settings
from minibase.domain.principal import SYSTEM
from minibase.store.files import sqlite_path
from minibase.store.migrate import migrate
from minibase.store.tables import organizations

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SCRATCH = "spike_minibase"


async def fresh_database(admin: str) -> str:
    conn = await asyncpg.connect(admin)
    await conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
    await conn.execute(f"CREATE DATABASE {SCRATCH}")
    await conn.close()
    return admin.rsplit("/", 1)[0] + "/" + SCRATCH


def start_worker(settings: Settings, log_dir: Path, name: str, **env: str) -> Any:
    path = log_dir / f"worker-{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "minibase", "worker"],
        env={
            **os.environ,
            "MINIBASE_DATABASE_URL": settings.database_url,
            "MINIBASE_DATA_DIR": str(settings.data_dir),
            "MINIBASE_RUN_POLL_SECONDS": "0.05",
            **env,
        },
        stdout=path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while b"is running" not in path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(path.read_text())
        time.sleep(0.05)
    return process


def stop_worker(process: Any) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Sql:
    """The few reads the spike makes, on asyncpg or on the SQLite file."""

    def __init__(self, settings: Settings) -> None:
        self.path = sqlite_path(settings)
        self.url = settings.database_url.replace("+asyncpg", "")
        self.pg: Any = None

    async def fetch(self, sql: str, *params: Any) -> list[Any]:
        if self.path is not None:
            with closing(sqlite3.connect(self.path, timeout=30)) as lite:
                lite.row_factory = sqlite3.Row
                return list(lite.execute(re.sub(r"\$\d", "?", sql), params).fetchall())
        if self.pg is None:
            self.pg = await asyncpg.connect(self.url)
        return list(await self.pg.fetch(sql, *params))

    async def fetchval(self, sql: str, *params: Any) -> Any:
        rows = await self.fetch(sql, *params)
        return rows[0][0] if rows else None

    async def close(self) -> None:
        if self.pg is not None:
            await self.pg.close()


class Api:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 1)), base_url="http://s"
        )
        self.headers: dict[str, str] = {}
        self.org = ""

    async def sign_in(self) -> None:
        email = f"spike-{secrets.token_hex(4)}@example.com"
        signed = await self.client.post(
            "/v1/auth/signup", json={"email": email, "password": "spike password 1"}
        )
        self.headers = {"Authorization": f"Bearer {signed.json()['token']}"}
        org = await self.client.post("/v1/orgs", json={"name": "spike"}, headers=self.headers)
        self.org = org.json()["id"]
        async with self.app.state.ctx.store.tenant(self.org, SYSTEM, write=True) as uow:
            await uow.execute(uow.update(organizations).values(plan="enterprise", settings={}))

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(
            f"/v1/orgs/{self.org}{path}", json=body, headers=self.headers
        )
        assert response.status_code < 300, response.text
        return dict(response.json())

    async def get(self, path: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/orgs/{self.org}{path}", headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())


def chain_flow(steps: int, seconds: float) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"id": "n0", "type": "constant", "position": {"x": 0, "y": 0}, "data": {"value": 1}}
    ]
    edges = []
    for i in range(1, steps + 1):
        nodes.append(
            {
                "id": f"n{i}",
                "type": "delay",
                "position": {"x": i, "y": 0},
                "data": {"seconds": seconds},
            }
        )
        edges.append({"id": f"e{i}", "source": f"n{i - 1}", "target": f"n{i}"})
    return {"name": "chain", "nodes": nodes, "edges": edges}


async def kill_main(args: argparse.Namespace, settings: Settings, api: Api, log_dir: Path) -> None:
    env = {"MINIBASE_RUN_LEASE_SECONDS": "1.5", "MINIBASE_RUN_SCHEDULES": "false"}
    # On SQLite (the embedded default) one process executes runs; the kill is followed
    # by starting it again, as a supervisor would.
    names = ("a",) if settings.is_sqlite else ("a", "b")
    workers = [start_worker(settings, log_dir, name, **env) for name in names]
    flow = await api.post("/flows", chain_flow(args.steps, args.step_seconds))
    run = await api.post(f"/flows/{flow['id']}/runs", {"force": True})
    t0 = time.monotonic()
    db = Sql(settings)
    try:
        while True:
            current = await api.get(f"/runs/{run['id']}")
            done = [n for n in current["nodes"] if n["status"] == "succeeded"]
            if len(done) >= args.steps // 3:
                break
            await asyncio.sleep(0.05)
        owner = await db.fetchval("SELECT lease_owner FROM run_queue WHERE run_id = $1", run["id"])
        pid = int(str(owner).split("_")[-2])
        victim = next(w for w in workers if w.pid == pid)
        if args.signal == "stop":  # stalled, not dead: a GC pause, a frozen VM
            victim.send_signal(signal.SIGSTOP)
        else:
            victim.send_signal(signal.SIGKILL)
            victim.wait()
        killed = time.monotonic()
        before = {n["nodeId"]: n for n in (await api.get(f"/runs/{run['id']}"))["nodes"]}
        print(
            f"SIG{args.signal.upper()} worker pid {pid} after {len(done)} of {args.steps + 1}"
            " nodes succeeded"
        )
        if settings.is_sqlite:
            workers.append(start_worker(settings, log_dir, "restarted", **env))
            print("started the worker again")
        if args.signal == "stop":
            while (
                await db.fetchval("SELECT lease_owner FROM run_queue WHERE run_id = $1", run["id"])
                == owner
            ):
                await asyncio.sleep(0.05)
                assert time.monotonic() - killed < 60, "nobody took the run over"
            await asyncio.sleep(3 * args.step_seconds)  # the other worker makes progress
            victim.send_signal(signal.SIGCONT)
            print(f"SIGCONT worker pid {pid} once the other held the run")
        while current["status"] in ("queued", "running"):
            await asyncio.sleep(0.1)
            current = await api.get(f"/runs/{run['id']}")
            assert time.monotonic() - killed < 120, "the run did not finish"
        after_kill = time.monotonic() - killed
        if args.signal == "stop":
            await asyncio.sleep(2 * args.step_seconds + 1)  # what the resumed worker writes
            later = await api.get(f"/runs/{run['id']}")
            changed = [
                a["nodeId"] for a, b in zip(current["nodes"], later["nodes"], strict=True) if a != b
            ]
            print(f"nodes changed after the run finished: {changed or 'none'}")
            assert later["status"] == current["status"] and not changed
        after = {n["nodeId"]: n for n in current["nodes"]}
        kept = all(
            after[k]["startedAt"] == v["startedAt"] and after[k]["outputId"] == v["outputId"]
            for k, v in before.items()
            if v["status"] == "succeeded"
        )
        rows = await db.fetch(
            "SELECT node_id, count(*) AS c FROM node_outputs WHERE run_id = $1 GROUP BY node_id",
            run["id"],
        )
        twice = sorted(r["node_id"] for r in rows if r["c"] > 1)
        missing = sorted({f"n{i}" for i in range(args.steps + 1)} - {r["node_id"] for r in rows})
        attempts = await db.fetchval("SELECT attempts FROM runs WHERE id = $1", run["id"])
        print(
            f"run {current['status']} {after_kill:.1f} s after the kill"
            f" ({time.monotonic() - t0:.1f} s in all), attempts {attempts}; nodes finished before"
            f" the kill kept their records: {kept}; recorded twice: {twice or 'none'};"
            f" missing: {missing or 'none'}"
        )
        ok = current["status"] == "succeeded" and kept and not twice and not missing
        print("PASS" if ok else "FAIL")
    finally:
        await db.close()
        for process in workers:
            stop_worker(process)


async def schedule_main(
    args: argparse.Namespace, settings: Settings, api: Api, log_dir: Path
) -> None:
    env = {"MINIBASE_RUN_SCHEDULES": "true", "MINIBASE_SCHEDULE_POLL_SECONDS": "1"}
    workers = [start_worker(settings, log_dir, name, **env) for name in ("a", "b")]
    flow = await api.post(
        "/flows",
        {
            "name": "tick",
            "nodes": [
                {
                    "id": "in",
                    "type": "constant",
                    "position": {"x": 0, "y": 0},
                    "data": {"value": 1},
                },
                {"id": "out", "type": "output", "position": {"x": 1, "y": 0}, "data": {}},
            ],
            "edges": [{"id": "e", "source": "in", "target": "out"}],
        },
    )
    schedule = await api.post(f"/flows/{flow['id']}/schedules", {"cron": "* * * * * *"})
    await asyncio.sleep(args.seconds)
    response = await api.client.patch(
        f"/v1/orgs/{api.org}/flows/{flow['id']}/schedules/{schedule['id']}",
        json={"enabled": False},
        headers=api.headers,
    )
    assert response.status_code == 200, response.text
    for process in workers:
        stop_worker(process)
    db = Sql(settings)
    rows = await db.fetch(
        "SELECT dedupe_key, created_at, status FROM runs WHERE trigger_id = $1", schedule["id"]
    )
    await db.close()
    fire_times = [int(str(r["dedupe_key"]).rsplit(":", 1)[1]) for r in rows]
    per_time = Counter(fire_times)
    dupes = {f: c for f, c in per_time.items() if c > 1}
    times = sorted(per_time)
    gaps = sum((b - a) // 1000 - 1 for a, b in itertools.pairwise(times))
    late = sorted(int(r["created_at"]) - int(str(r["dedupe_key"]).rsplit(":", 1)[1]) for r in rows)
    statuses = Counter(str(r["status"]) for r in rows)
    print(
        f"{args.seconds:.0f} s, two workers: {len(per_time)} fire times, {len(rows)} runs"
        f" ({dict(statuses)}); fire times run more than once: {len(dupes)}; skipped between"
        f" first and last: {gaps}; run created after its fire time p50/p99 ms:"
        f" {late[len(late) // 2]}/{late[min(len(late) - 1, int(len(late) * 0.99))]}"
    )
    print("PASS" if not dupes and not gaps else "FAIL")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--admin", default=ADMIN)
    parser.add_argument("--sqlite", action="store_true", help="the embedded default instead")
    sub = parser.add_subparsers(dest="command", required=True)
    kill = sub.add_parser("kill")
    kill.add_argument("--steps", type=int, default=50)
    kill.add_argument("--step-seconds", type=float, default=0.05)
    kill.add_argument("--signal", choices=("kill", "stop"), default="kill")
    schedule = sub.add_parser("schedule")
    schedule.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    url = ""
    if not args.sqlite:
        url = await fresh_database(args.admin)
        url = url.replace("postgresql://", "postgresql+asyncpg://")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=url)
        await migrate(settings)
        app = create_app(
            settings.model_copy(update={"run_in_server": "never", "run_schedules": False}),
            run_migrations=False,
        )
        async with app.router.lifespan_context(app):
            api = Api(app)
            await api.sign_in()
            run = kill_main if args.command == "kill" else schedule_main
            await run(args, settings, api, Path(tmp))
            await api.client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
