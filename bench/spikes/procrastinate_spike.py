"""Spike (issue 13): procrastinate under a SIGKILLed worker and two periodic schedulers.

Not part of Minibase: ``procrastinate`` is not a dependency. Run it from a separate
virtualenv:

    python3.11 -m venv /tmp/spike-proc-venv
    /tmp/spike-proc-venv/bin/pip install procrastinate "psycopg[binary,pool]"
    /tmp/spike-proc-venv/bin/python bench/spikes/procrastinate_spike.py kill [--steps 50]
        [--signal kill|stop]
    /tmp/spike-proc-venv/bin/python bench/spikes/procrastinate_spike.py schedule [--seconds 60]
    /tmp/spike-proc-venv/bin/python bench/spikes/procrastinate_spike.py overhead [--steps 1000]

procrastinate is a task queue, not a workflow engine: it runs a job at least once and
keeps no per-step checkpoint. The run is therefore one job whose steps are our rows:
the job skips the steps already recorded in ``steps`` (our table is the checkpoint, as
in Minibase's own engine) and records each further step in its own transaction.

- ``kill``: two worker processes; the one running the job is SIGKILLed after a third of
  the steps. A SIGKILLed worker stops sending heartbeats; its job stays ``doing`` until
  someone calls ``get_stalled_jobs`` + ``retry_job`` — procrastinate's documented recipe
  is a periodic task doing that, which both workers run here (every second, stalled
  after ``--stalled-seconds`` without a heartbeat). ``--signal stop`` SIGSTOPs the worker
  instead (stalled, not dead) and SIGCONTs it once the other has taken the job over:
  procrastinate has no fence, so does the stale worker go on writing?
- ``schedule``: two workers with the same every-second periodic task for ``--seconds``.
- ``overhead``: one job of ``--steps`` steps (each a row in its own transaction), and
  ``--steps`` jobs of one step each (a node per job), with one worker in process.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import procrastinate
import psycopg

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SCRATCH = "spike_procrastinate"
WORKER = os.environ.get("SPIKE_WORKER", "main")
STEP_SECONDS = float(os.environ.get("SPIKE_STEP_SECONDS", "0"))
STALLED_SECONDS = float(os.environ.get("SPIKE_STALLED_SECONDS", "2"))
URL = os.environ.get("SPIKE_URL", "")
SCHEDULE = os.environ.get("SPIKE_SCHEDULE") == "1"


def scratch_url(admin: str) -> str:
    return admin.rsplit("/", 1)[0] + "/" + SCRATCH


def fresh_database(admin: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {SCRATCH}")
    url = scratch_url(admin)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE steps (run_id text NOT NULL, step integer NOT NULL,"
            " worker text NOT NULL, at double precision NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE fires (fire_time bigint NOT NULL, worker text NOT NULL,"
            " at double precision NOT NULL)"
        )
    schema_app = make_app(url)
    with schema_app.open():
        schema_app.schema_manager.apply_schema()
    return url


def make_app(url: str) -> procrastinate.App:
    if url == "":
        url = "postgresql://unused"
    return procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=url),
        import_paths=[] if __name__ == "__main__" else [__name__],
    )


app = make_app(URL)


@app.task(name="chain", queue="runs")
async def chain(run_id: str, steps: int) -> int:
    async with await psycopg.AsyncConnection.connect(URL, autocommit=True) as conn:
        done = {
            int(s)
            for (s,) in await (
                await conn.execute("SELECT step FROM steps WHERE run_id = %s", (run_id,))
            ).fetchall()
        }
        for i in range(steps):
            if i in done:
                continue  # our row is the checkpoint
            if STEP_SECONDS:
                await asyncio.sleep(STEP_SECONDS)
            await conn.execute(
                "INSERT INTO steps VALUES (%s, %s, %s, %s)", (run_id, i, WORKER, time.time())
            )
    return steps


@app.task(name="one_step", queue="runs")
async def one_step(run_id: str, step: int) -> None:
    await app.connector.execute_query_async(  # procrastinate's own pool
        "INSERT INTO steps VALUES (%(r)s, %(s)s, %(w)s, %(t)s)",
        r=run_id,
        s=step,
        w=WORKER,
        t=time.time(),
    )


@app.periodic(cron="* * * * * *", periodic_id="sweeper")
@app.task(name="retry_stalled", queue="sweeper", queueing_lock="retry_stalled")
async def retry_stalled(timestamp: int) -> None:
    """procrastinate's recipe: retry jobs of workers whose heartbeat stopped."""
    del timestamp
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_SECONDS)
    for job in stalled:
        await app.job_manager.retry_job(job)
        print(f"worker {WORKER} retried stalled job {job.id}", flush=True)


if SCHEDULE:

    @app.periodic(cron="* * * * * *", periodic_id="every-second")
    @app.task(name="on_fire", queue="fires")
    async def on_fire(timestamp: int) -> None:
        async with await psycopg.AsyncConnection.connect(URL, autocommit=True) as conn:
            await conn.execute(
                "INSERT INTO fires VALUES (%s, %s, %s)", (timestamp, WORKER, time.time())
            )


async def worker_main() -> None:
    async with app.open_async():
        print(f"worker {WORKER} is running", flush=True)
        await app.run_worker_async(
            name=WORKER,
            concurrency=4,
            fetch_job_polling_interval=0.1,
            update_heartbeat_interval=0.5,
            stalled_worker_timeout=STALLED_SECONDS,
            install_signal_handlers=True,
        )


# --- the driver ------------------------------------------------------------------------


def start_worker(url: str, name: str, log_dir: Path, **env: str) -> Any:
    path = log_dir / f"worker-{name}.log"
    process = subprocess.Popen(
        [sys.executable, __file__, "worker"],
        env={**os.environ, "SPIKE_WORKER": name, "SPIKE_URL": url, **env},
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


def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql, params).fetchall())


def wait(predicate: Any, timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())


def kill_main(args: argparse.Namespace) -> None:
    url = fresh_database(args.admin)
    env = {
        "SPIKE_STEP_SECONDS": str(args.step_seconds),
        "SPIKE_STALLED_SECONDS": str(args.stalled_seconds),
    }
    with tempfile.TemporaryDirectory() as tmp:
        log_dir = Path(tmp)
        workers = {w: start_worker(url, w, log_dir, **env) for w in ("a", "b")}
        run_id = f"run-{int(time.time())}"
        driver = make_app(url)
        with driver.open():
            job_id = driver.configure_task("chain", queue="runs").defer(
                run_id=run_id, steps=args.steps
            )
        t0 = time.monotonic()

        def recorded() -> int:
            return int(query(url, "SELECT count(*) FROM steps WHERE run_id = %s", run_id)[0][0])

        def job_status() -> str:
            return str(
                query(url, "SELECT status FROM procrastinate_jobs WHERE id = %s", job_id)[0][0]
            )

        assert wait(lambda: recorded() >= args.steps // 3, 60), "the job did not progress"
        victim = str(
            query(
                url, "SELECT worker FROM steps WHERE run_id = %s ORDER BY at DESC LIMIT 1", run_id
            )[0][0]
        )
        if args.signal == "stop":  # stalled, not dead: a GC pause, a frozen VM
            workers[victim].send_signal(signal.SIGSTOP)
        else:
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
        killed_at = time.monotonic()
        at_kill = recorded()
        print(f"SIG{args.signal.upper()} worker {victim} after {at_kill} of {args.steps} steps")
        if args.signal == "stop":
            assert wait(lambda: recorded() > at_kill + 2, 60), "nobody took the job over"
            workers[victim].send_signal(signal.SIGCONT)
            print(f"SIGCONT worker {victim} once the other had recorded more steps")
        assert wait(lambda: job_status() in ("succeeded", "failed"), 120, every=0.1)
        elapsed = time.monotonic() - t0
        after_kill = time.monotonic() - killed_at
        if args.signal == "stop":
            time.sleep(args.steps * args.step_seconds + 1)  # what the resumed worker writes
        per_step = Counter(
            int(s) for (s,) in query(url, "SELECT step FROM steps WHERE run_id = %s", run_id)
        )
        twice = sorted(s for s, c in per_step.items() if c > 1)
        missing = sorted(set(range(args.steps)) - set(per_step))
        by_worker = dict(
            query(
                url, "SELECT worker, count(*) FROM steps WHERE run_id = %s GROUP BY worker", run_id
            )
        )
        attempts = query(
            url,
            "SELECT count(*) FROM procrastinate_events WHERE job_id = %s AND type = 'started'",
            job_id,
        )[0][0]
        final = job_status()
        print(
            f"job {final} {after_kill:.1f} s after the kill ({elapsed:.1f} s in"
            f" all), started {attempts} times; steps recorded by worker {by_worker}; recorded"
            f" twice: {twice or 'none'}; missing: {missing or 'none'}"
        )
        print("PASS" if final == "succeeded" and not twice and not missing else "FAIL")
        for process in workers.values():
            stop_worker(process)


def schedule_main(args: argparse.Namespace) -> None:
    url = fresh_database(args.admin)
    with tempfile.TemporaryDirectory() as tmp:
        log_dir = Path(tmp)
        workers = [start_worker(url, w, log_dir, SPIKE_SCHEDULE="1") for w in ("a", "b")]
        time.sleep(args.seconds)
        for process in workers:
            stop_worker(process)
    fires = query(url, "SELECT fire_time, worker, at FROM fires ORDER BY fire_time")
    per_time = Counter(int(f) for f, _, _ in fires)
    dupes = {f: c for f, c in per_time.items() if c > 1}
    times = sorted(per_time)
    gaps = sum(b - a - 1 for a, b in itertools.pairwise(times))
    late = sorted((at - f) * 1000 for f, _, at in fires)
    p50, p99 = late[len(late) // 2], late[min(len(late) - 1, int(len(late) * 0.99))]
    defers = query(url, "SELECT count(*) FROM procrastinate_periodic_defers")[0][0]
    print(
        f"{args.seconds:.0f} s, two workers: {len(per_time)} fire times, {len(fires)} runs,"
        f" by worker {dict(Counter(w for _, w, _ in fires))}; fire times run more than once:"
        f" {len(dupes)}; skipped between first and last: {gaps}; run lateness p50/p99 ms:"
        f" {p50:.0f}/{p99:.0f}; periodic_defers rows {defers}"
    )
    print("PASS" if not dupes and not gaps else "FAIL")


async def overhead(steps: int, repeat: int) -> None:
    """In the process whose ``app`` was built for SPIKE_URL (``overhead`` re-runs us)."""
    rows = []
    async with app.open_async():
        for label in ("one job, N steps", "N jobs, one step each"):
            samples = []
            for r in range(repeat):
                run_id = f"bench-{label[:3]}-{r}"
                t0 = time.perf_counter()
                if label.startswith("one"):
                    await chain.defer_async(run_id=run_id, steps=steps)
                else:
                    await one_step.batch_defer_async(
                        *({"run_id": run_id, "step": i} for i in range(steps))
                    )
                await app.run_worker_async(
                    queues=["runs"], concurrency=1, wait=False, fetch_job_polling_interval=0.01
                )
                samples.append(time.perf_counter() - t0)
            best = sorted(samples)[len(samples) // 2]
            rows.append(
                f"| PostgreSQL | {label} | {steps} | {best * 1000:,.0f} ms |"
                f" {best * 1000 / steps:.3f} ms | {steps / best:,.0f} |"
            )
            print(rows[-1], flush=True)
    print("| database | shape | steps | total | per step | steps/s |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--admin", default=ADMIN)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("worker")
    kill = sub.add_parser("kill")
    kill.add_argument("--steps", type=int, default=50)
    kill.add_argument("--step-seconds", type=float, default=0.05)
    kill.add_argument("--stalled-seconds", type=float, default=2.0)
    kill.add_argument("--signal", choices=("kill", "stop"), default="kill")
    schedule = sub.add_parser("schedule")
    schedule.add_argument("--seconds", type=float, default=60.0)
    for name in ("overhead", "overhead-run"):
        bench = sub.add_parser(name)
        bench.add_argument("--steps", type=int, default=1000)
        bench.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.command == "worker":
        asyncio.run(worker_main())
    elif args.command == "kill":
        kill_main(args)
    elif args.command == "schedule":
        schedule_main(args)
    elif args.command == "overhead-run":
        asyncio.run(overhead(args.steps, args.repeat))
    else:
        url = fresh_database(args.admin)
        again = [sys.executable, __file__, "overhead-run", f"--steps={args.steps}"]
        subprocess.run(
            [*again, f"--repeat={args.repeat}"], env={**os.environ, "SPIKE_URL": url}, check=True
        )


if __name__ == "__main__":
    main()
