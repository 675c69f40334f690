"""Flow engine overhead per node, against calling the node functions directly.

    python bench/engine_overhead.py [--nodes 1000] [--repeat 3] [--runs 300]
                                    [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

A 1,000-node DAG of no-op nodes (one ``constant``, then ``output`` nodes that pass their
input through), as a chain and as a wide fan-out, measured three ways in one invocation:

- **direct**: the node functions called in topological order (the baseline);
- **executor**: the DAG executor with an in-memory recorder (scheduling, input
  gathering, cache keys, no storage);
- **durable**: a whole run executed by a worker on the database, with every node's
  start, result and output row written (``services/run_worker.py``), first run
  (cache misses: every node computed and stored) and second run (every node a cache
  hit, looked up and recorded).

Per-node overhead = (time - direct time) / nodes. Then runs per second: ``--runs`` small
runs (3 nodes) queued at once, then executed by two workers on PostgreSQL (two workers
running their own loops, with their own connection pools, in this one process; one on
SQLite, which has one writer process per data dir), each with ``--concurrency`` runs at
once (8), timed until no run is queued or running. SQLite always; PostgreSQL too with
``--postgres`` (a scratch database is created beside the one named, and dropped).

With ``--processes`` the PostgreSQL runs are executed a second way, as deployed: two
``minibase worker`` processes, started before the runs are queued and held with SIGSTOP
while they are, then let go and timed the same way. Each way prints the CPU per run of
the workers and of PostgreSQL (its server processes, read from /proc): where the time
goes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from minibase.app import create_app
from minibase.config import Settings
from minibase.engine.builtins import BUILTINS
from minibase.engine.executor import CachedResult, NodeResult, RunSpec, execute
from minibase.engine.node_types import NodeContext
from minibase.engine.plan import Plan, PlanNode, build_plan
from minibase.engine.registry import NodeRegistry
from minibase.services.run_worker import RunWorker
from minibase.store.database import Database
from minibase.store.migrate import migrate
from minibase.store.unit_of_work import Store


def flow(shape: str, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [{"id": "n0", "type": "constant", "position": {"x": 0, "y": 0}, "data": {"value": 1}}]
    edges = []
    for i in range(1, count):
        nodes.append({"id": f"n{i}", "type": "output", "position": {"x": i, "y": 0}, "data": {}})
        source = f"n{i - 1}" if shape == "chain" else "n0"
        edges.append({"id": f"e{i}", "source": source, "target": f"n{i}"})
    return nodes, edges


class NullRecorder:
    async def lookup(self, node: PlanNode, key: str) -> CachedResult | None:
        return None

    def started(self, node_id: str, at: int) -> None:
        pass

    def finished(self, result: NodeResult) -> None:
        pass


def direct(plan: Plan) -> float:
    """The node functions called in topological order, with their inputs wired by hand."""
    ctx = NodeContext("run", "n", "flow", "org", {}, None)
    t0 = time.perf_counter()
    outputs: dict[str, Any] = {}
    for node_id, node in plan.nodes.items():
        inputs = {w.target_port: outputs[w.source][w.source_port] for w in node.inbound}
        outputs[node_id] = node.node_type.process(node.config, inputs, ctx)
    return time.perf_counter() - t0


async def in_memory(plan: Plan) -> float:
    spec = RunSpec(run_id="r", flow_id="f", organization_id="o", inputs={}, force=True)
    t0 = time.perf_counter()
    await execute(plan, spec, NullRecorder())
    return time.perf_counter() - t0


async def _client(app: Any) -> tuple[httpx.AsyncClient, dict[str, str], str]:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 1)), base_url="http://b"
    )
    email = f"bench-{secrets.token_hex(4)}@example.com"
    signed = await client.post(
        "/v1/auth/signup", json={"email": email, "password": "benchmark password 1"}
    )
    headers = {"Authorization": f"Bearer {signed.json()['token']}"}
    org = await client.post("/v1/orgs", json={"name": "bench"}, headers=headers)
    org_id = org.json()["id"]
    # A higher plan: the free plan's 60 runs a minute would stop the throughput part.
    ctx = app.state.ctx
    from minibase.domain.principal import SYSTEM
    from minibase.store.tables import organizations

    async with ctx.store.tenant(org_id, SYSTEM, write=True) as uow:
        await uow.execute(uow.update(organizations).values(plan="enterprise", settings={}))
    return client, headers, org_id


async def durable(settings: Settings, args: argparse.Namespace, label: str) -> None:
    await migrate(settings)
    app = create_app(
        settings.model_copy(update={"run_in_server": "never", "rate_limit_per_second": 1_000_000}),
        run_migrations=False,
    )
    registry = NodeRegistry(BUILTINS)
    async with app.router.lifespan_context(app):
        client, headers, org_id = await _client(app)
        store: Store = app.state.ctx.store
        worker = RunWorker(store, settings, registry)
        for shape in ("chain", "fan-out") if args.only != "throughput" else ():
            nodes, edges = flow(shape, args.nodes)
            plan = build_plan(nodes, edges, registry)
            base = statistics.median(direct(plan) for _ in range(args.repeat))
            memory = statistics.median([await in_memory(plan) for _ in range(args.repeat)])
            created = await client.post(
                f"/v1/orgs/{org_id}/flows",
                json={"name": shape, "nodes": nodes, "edges": edges},
                headers=headers,
            )
            flow_id = created.json()["id"]
            cold: list[float] = []
            warm: list[float] = []
            for _ in range(args.repeat):
                for force, into in ((True, cold), (False, warm)):
                    await client.post(
                        f"/v1/orgs/{org_id}/flows/{flow_id}/runs",
                        json={"force": force},
                        headers=headers,
                    )
                    t0 = time.perf_counter()
                    assert await worker.run_one()
                    into.append(time.perf_counter() - t0)
            n = args.nodes
            for what, seconds in (
                ("executor, in memory", memory),
                ("durable, computed", statistics.median(cold)),
                ("durable, cached", statistics.median(warm)),
            ):
                print(
                    f"| {label} | {shape} | {what} | {base * 1000:.1f} ms | "
                    f"{seconds * 1000:.0f} ms | {(seconds - base) / n * 1000:.3f} ms | "
                    f"{seconds / base:.0f} |",
                    flush=True,
                )
        if args.only != "overhead":
            await throughput(settings, client, headers, org_id, args, label, registry)
        await client.aclose()


async def throughput(
    settings: Settings,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    org_id: str,
    args: argparse.Namespace,
    label: str,
    registry: NodeRegistry,
) -> None:
    nodes, edges = flow("chain", 3)
    created = await client.post(
        f"/v1/orgs/{org_id}/flows",
        json={"name": "small", "nodes": nodes, "edges": edges},
        headers=headers,
    )
    flow_id = created.json()["id"]
    for concurrency in args.concurrency:
        for _ in range(args.repeat):
            await _throughput_once(
                settings, client, headers, org_id, flow_id, args, label, registry, concurrency
            )
            if args.processes and not settings.is_sqlite:
                await _throughput_processes(
                    settings, client, headers, org_id, flow_id, args, concurrency
                )


async def _queue(
    client: httpx.AsyncClient, headers: dict[str, str], org_id: str, flow_id: str, runs: int
) -> None:
    for _ in range(runs):
        queued = await client.post(
            f"/v1/orgs/{org_id}/flows/{flow_id}/runs", json={"force": True}, headers=headers
        )
        assert queued.status_code == 202, queued.text


async def _throughput_once(
    settings: Settings,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    org_id: str,
    flow_id: str,
    args: argparse.Namespace,
    label: str,
    registry: NodeRegistry,
    concurrency: int,
) -> None:
    await _queue(client, headers, org_id, flow_id, args.runs)
    await _analyze(settings)
    postgres0 = _postgres_usage(settings)
    fast = settings.model_copy(update={"worker_concurrency": concurrency})
    # SQLite is one writer process per data dir: one worker there; two on PostgreSQL.
    databases = [Database(fast) for _ in range(1 if settings.is_sqlite else 2)]
    workers = [RunWorker(Store(db), fast, registry) for db in databases]
    watcher = Store(Database(settings))
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    for worker in workers:
        await worker.start()
    # The workers run their own loops (claims of as many runs as they have free slots).
    await _until_done(watcher, org_id)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    postgres = _usage_per_run(postgres0, _postgres_usage(settings), args.runs)
    for worker in workers:
        await worker.close()
    for db in [*databases, watcher.database]:
        await db.close()
    print(
        f"{label}: {args.runs} runs of 3 nodes by {len(workers)} worker(s) "
        f"({concurrency} runs at once each) in {elapsed:.2f} s: "
        f"**{args.runs / elapsed:.0f} runs/s**; this process's CPU "
        f"{cpu / args.runs * 1000:.2f} ms per run{postgres}; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )


async def _throughput_processes(
    settings: Settings,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    org_id: str,
    flow_id: str,
    args: argparse.Namespace,
    concurrency: int,
) -> None:
    """The runs executed by two ``minibase worker`` processes (see the module's docstring)."""
    env = {
        **os.environ,
        "MINIBASE_DATABASE_URL": settings.database_url,
        "MINIBASE_WORKER_CONCURRENCY": str(concurrency),
        "MINIBASE_RUN_POLL_SECONDS": "0.005",
        "MINIBASE_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "minibase", "worker", "--data-dir", str(settings.data_dir)]
    workers = [
        await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE)
        for _ in range(2)
    ]
    watcher = Store(Database(settings))
    try:
        for worker in workers:  # each says so once it is claiming
            assert worker.stdout is not None
            line = await asyncio.wait_for(worker.stdout.readline(), 60)
            assert b"is running" in line, line
            worker.send_signal(signal.SIGSTOP)
        await _queue(client, headers, org_id, flow_id, args.runs)
        await _analyze(settings)
        cpu0 = sum(_process_cpu(w.pid) for w in workers)
        postgres0 = _postgres_usage(settings)
        t0 = time.perf_counter()
        for worker in workers:
            worker.send_signal(signal.SIGCONT)
        await _until_done(watcher, org_id)
        elapsed = time.perf_counter() - t0
        cpu = sum(_process_cpu(w.pid) for w in workers) - cpu0
        postgres = _usage_per_run(postgres0, _postgres_usage(settings), args.runs)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGCONT)
            worker.terminate()
        for worker in workers:
            await asyncio.wait_for(worker.wait(), 30)
        await watcher.database.close()
    print(
        f"PostgreSQL: {args.runs} runs of 3 nodes by 2 worker processes "
        f"({concurrency} runs at once each) in {elapsed:.2f} s: "
        f"**{args.runs / elapsed:.0f} runs/s**; the workers' CPU "
        f"{cpu / args.runs * 1000:.2f} ms per run{postgres}; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )


_TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) process ``pid`` used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _postgres_cpu() -> float:
    """CPU seconds used so far by this machine's PostgreSQL server processes."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                total += _process_cpu(int(entry.name))
        except OSError:  # it ended meanwhile
            continue
    return total


def _dsn(url: str) -> str:
    """asyncpg's form of a SQLAlchemy ``postgresql+asyncpg://`` URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _analyze(settings: Settings) -> None:
    """On PostgreSQL, what autovacuum does to tables that grew: ``ANALYZE``.

    Autovacuum is off on the machines these figures come from (``SHOW autovacuum``), and
    the bench's database is new. Without statistics, the plans each pooled connection
    made while the tables were empty (and keeps, as generic prepared plans) served a
    run's lookup by primary key from another index starting with the org, reading every
    run of the org: PostgreSQL's CPU per run grew with each repeat (1.0 -> 2.2 ms over
    six). ``ANALYZE`` gives the tables statistics and sends the connections' plans to be
    made again, as autovacuum's would on a deployment within a minute of such growth.
    """
    if settings.is_sqlite:
        return
    import asyncpg

    conn = await asyncpg.connect(_dsn(settings.database_url))
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _postgres_usage(settings: Settings) -> float | None:
    """PostgreSQL's CPU so far (``None`` on SQLite). Backends that end between two
    readings take their CPU with them: the workers' connections live through a
    measurement, so it is not missed."""
    return None if settings.is_sqlite else _postgres_cpu()


def _usage_per_run(before: float | None, after: float | None, runs: int) -> str:
    if before is None or after is None:
        return ""
    return f", PostgreSQL's {(after - before) / runs * 1000:.2f} ms per run"


async def _until_done(watcher: Store, org_id: str) -> None:
    """Return once no run of the org is queued or running (looked at every 5 ms)."""
    while await _open_runs(watcher, org_id):  # noqa: ASYNC110 - the database is what changes
        await asyncio.sleep(0.005)


_OPEN_RUNS: dict[str, Any] = {}
"""The watcher's count per org, built once: built at every look (every 5 ms) it cost this
process, whose event loop the workers share, more CPU than any statement of theirs."""


async def _open_runs(store: Store, org_id: str) -> int:
    """The org's rows in the run queue: a run's row goes in the transaction that finishes
    it. Counting the queue, not the runs table, keeps the watcher's look the same size
    however many runs the org has: counting ``runs`` by status read every run of the org
    at each look (no index has the status), and that cost PostgreSQL more CPU with each
    repeat (1.0 -> 2.2 ms per run over six repeats of 1,000 runs), charged to the engine."""
    from minibase.domain.principal import SYSTEM
    from minibase.store.tables import run_queue

    async with store.tenant(org_id, SYSTEM) as uow:
        query = _OPEN_RUNS.get(org_id)
        if query is None:
            query = (
                select(func.count()).select_from(run_queue).where(run_queue.c.owner_org == org_id)
            )
            _OPEN_RUNS[org_id] = query
        return int((await uow.execute(query)).scalar_one())


async def _postgres(url: str, args: argparse.Namespace) -> None:
    import asyncpg

    name = "mb_bench_" + secrets.token_hex(4)
    dsn = _dsn(url)
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        target = url.rsplit("/", 1)[0] + "/" + name
        with tempfile.TemporaryDirectory() as tmp:
            await durable(Settings(data_dir=Path(tmp), database_url=target), args, "PostgreSQL")
    finally:
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--postgres", default="")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[8], help="runs at once per worker"
    )
    parser.add_argument(
        "--only", choices=("overhead", "throughput"), default=None, help="one part only"
    )
    parser.add_argument(
        "--processes",
        action="store_true",
        help="on PostgreSQL, also run the throughput part with two worker processes",
    )
    args = parser.parse_args()
    print("| database | DAG | engine | direct calls | engine | overhead per node | ratio |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        await durable(Settings(data_dir=Path(tmp)), args, "SQLite")
    if args.postgres:
        await _postgres(args.postgres, args)


if __name__ == "__main__":
    asyncio.run(main())
