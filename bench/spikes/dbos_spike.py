"""Spike (issue 13): DBOS Transact under a SIGKILLed worker, two schedulers, step overhead.

Not part of Minibase: ``dbos`` is not a dependency. Run it from a separate virtualenv:

    python3.11 -m venv /tmp/spike-venv
    /tmp/spike-venv/bin/pip install "dbos>=3,<4" "psycopg[binary]"
    /tmp/spike-venv/bin/python bench/spikes/dbos_spike.py kill [--steps 50] [--mode tx]
        [--signal kill|stop] [--sleep-after] [--recover resume|restart]
    /tmp/spike-venv/bin/python bench/spikes/dbos_spike.py sqlite-kill [--steps 50]
    /tmp/spike-venv/bin/python bench/spikes/dbos_spike.py schedule [--seconds 60]
    /tmp/spike-venv/bin/python bench/spikes/dbos_spike.py overhead [--steps 1000]

Each command creates a fresh PostgreSQL database (``--admin``, default
``postgresql://postgres@127.0.0.1:5432/postgres``; the scratch database ``spike_dbos``)
used both as DBOS's system database (schema ``dbos``) and as the "application" database
(table ``steps``, schema ``public``), and starts the worker processes itself.

- ``kill``: a workflow of ``--steps`` steps, each recording its completion as a row of
  ``steps`` (no unique key, so a step recorded twice shows) and sleeping
  ``--step-seconds``; two worker processes (executor ids ``a`` and ``b``) consume the
  queue; the one running the workflow is SIGKILLed after a third of the steps. We then
  watch whether the live worker takes the workflow over by itself (DBOS has no executor
  liveness outside its commercial Conductor), then play the sweeper we would have to
  write: ``DBOSClient.resume_workflow`` on the dead executor's PENDING workflow.
  ``--mode tx`` records through a DBOS datasource transaction (the step's checkpoint and
  our row in one transaction); ``--mode step`` through a plain ``@DBOS.step`` writing in
  its own transaction (checkpoint afterwards: at-least-once). ``--recover restart``
  instead starts a new worker under the dead one's executor id, which recovers its
  workflows at launch (DBOS's own answer when self-hosted). ``--sleep-after`` puts each
  step's work (the sleep) after its write, so the kill lands between our committed row
  and DBOS's checkpoint: the window where a plain step is recorded twice.
  ``--signal stop`` SIGSTOPs the worker instead (stalled, not dead), hands its workflow
  to the other as above, and SIGCONTs it once the other has made progress: does the
  stale execution record anything more?
- ``sqlite-kill``: the embedded default: one worker process on a SQLite file (system
  database and datasource), SIGKILLed mid-workflow and started again.
- ``schedule``: two processes apply the same every-second schedule for ``--seconds``;
  each run records its fire time; we count runs per fire time.
- ``overhead``: one in-process workflow of ``--steps`` no-op steps, on PostgreSQL and
  on SQLite (``sqlite:///`` files in a temporary directory), per mode.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from dbos import DBOS, DBOSClient, SQLAlchemyDatasource

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SCRATCH = "spike_dbos"
QUEUE = "runs"
STEPS_DDL = (
    "CREATE TABLE IF NOT EXISTS steps (workflow_id text NOT NULL, step integer NOT NULL,"
    " executor text NOT NULL, at double precision NOT NULL)"
)
FIRES_DDL = (
    "CREATE TABLE IF NOT EXISTS fires (fire_time text NOT NULL, executor text NOT NULL,"
    " at double precision NOT NULL)"
)


def scratch_url(admin: str) -> str:
    return admin.rsplit("/", 1)[0] + "/" + SCRATCH


def fresh_database(admin: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {SCRATCH}")
    url = scratch_url(admin)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(STEPS_DDL)
        conn.execute(FIRES_DDL)
    return url


# --- the application: registered identically in every process -------------------------

EXECUTOR = os.environ.get("SPIKE_EXECUTOR", "local")
STEP_SECONDS = float(os.environ.get("SPIKE_STEP_SECONDS", "0"))
SLEEP_AFTER = os.environ.get("SPIKE_SLEEP_AFTER") == "1"  # work after the write: kills land there
_ds: SQLAlchemyDatasource | None = None


def _record_tx(workflow_id: str, step: int) -> None:
    assert _ds is not None
    if STEP_SECONDS and not SLEEP_AFTER:
        time.sleep(STEP_SECONDS)
    _ds.sql_session().execute(
        sa.text("INSERT INTO steps VALUES (:w, :s, :e, :t)"),
        {"w": workflow_id, "s": step, "e": EXECUTOR, "t": time.time()},
    )
    if STEP_SECONDS and SLEEP_AFTER:
        time.sleep(STEP_SECONDS)


def _record_step(url: str, workflow_id: str, step: int) -> None:
    if STEP_SECONDS and not SLEEP_AFTER:
        time.sleep(STEP_SECONDS)
    _insert_step(url, workflow_id, step)
    if STEP_SECONDS and SLEEP_AFTER:
        time.sleep(STEP_SECONDS)


def _insert_step(url: str, workflow_id: str, step: int) -> None:
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(
                "INSERT INTO steps VALUES (?, ?, ?, ?)", (workflow_id, step, EXECUTOR, time.time())
            )
        return
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO steps VALUES (%s, %s, %s, %s)", (workflow_id, step, EXECUTOR, time.time())
        )


def _noop() -> None:
    return None


def _chain(steps: int, mode: str, url: str) -> int:
    workflow_id = DBOS.workflow_id
    assert workflow_id is not None
    for i in range(steps):
        if mode == "tx":
            record_tx(workflow_id, i)
        elif mode == "step":
            record_step(url, workflow_id, i)
        else:
            noop()
    return steps


def _on_fire(scheduled_time: datetime, context: Any) -> None:
    with psycopg.connect(str(context)) as conn:
        conn.execute(
            "INSERT INTO fires VALUES (%s, %s, %s)",
            (scheduled_time.isoformat(), EXECUTOR, time.time()),
        )


record_tx: Any = None
record_step = DBOS.step(name="record_step")(_record_step)
noop = DBOS.step(name="noop")(_noop)
chain = DBOS.workflow(name="chain")(_chain)
on_fire = DBOS.workflow(name="on_fire")(_on_fire)


def launch(system_url: str, app_url: str, executor: str) -> None:
    global _ds, record_tx
    DBOS(
        config={
            "name": "spike",
            "system_database_url": system_url,
            "executor_id": executor,
            "application_version": "spike-1",
            "scheduler_polling_interval_sec": 1.0,
            "notification_listener_polling_interval_sec": 0.1,
        }
    )
    _ds = SQLAlchemyDatasource.create(app_url)
    record_tx = _ds.transaction()(_record_tx)
    DBOS.launch()
    DBOS.register_queue(QUEUE, polling_interval_sec=0.05, worker_concurrency=1)


def worker_main(args: argparse.Namespace) -> None:
    launch(args.url, args.url, args.executor)
    if args.schedule:
        DBOS.apply_schedules(
            [
                {
                    "schedule_name": "every-second",
                    "workflow_fn": on_fire,
                    "schedule": "* * * * * *",
                    "context": args.url,
                }
            ]
        )
    print(f"worker {args.executor} is running", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    DBOS.destroy()


# --- the driver ------------------------------------------------------------------------


def start_worker(url: str, executor: str, log_dir: Path, *extra: str, **env: str) -> Any:
    log = (log_dir / f"worker-{executor}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, __file__, "worker", "--url", url, "--executor", executor, *extra],
        env={**os.environ, "SPIKE_EXECUTOR": executor, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    path = log_dir / f"worker-{executor}.log"
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
    if url.startswith("sqlite"):
        import sqlite3

        with closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)) as lite:
            sql = sql.replace("%s", "?").replace("dbos.", "")
            return list(lite.execute(sql, params).fetchall())
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql, params).fetchall())


def status(url: str, workflow_id: str) -> tuple[str, str]:
    rows = query(
        url,
        "SELECT status, executor_id FROM dbos.workflow_status WHERE workflow_uuid = %s",
        workflow_id,
    )
    return (str(rows[0][0]), str(rows[0][1])) if rows else ("MISSING", "")


def wait(predicate: Any, timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())


def kill_main(args: argparse.Namespace) -> None:
    url = fresh_database(args.admin)
    env = {"SPIKE_STEP_SECONDS": str(args.step_seconds), "SPIKE_SLEEP_AFTER": "0"}
    if args.sleep_after:
        env["SPIKE_SLEEP_AFTER"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        log_dir = Path(tmp)
        workers = {e: start_worker(url, e, log_dir, **env) for e in ("a", "b")}
        client = DBOSClient(system_database_url=url)
        workflow_id = f"run-{args.mode}-{int(time.time())}"
        t0 = time.monotonic()
        handle = client.enqueue(
            {"queue_name": QUEUE, "workflow_name": "chain", "workflow_id": workflow_id},
            args.steps,
            args.mode,
            url,
        )

        def recorded() -> int:
            return int(
                query(url, "SELECT count(*) FROM steps WHERE workflow_id = %s", workflow_id)[0][0]
            )

        assert wait(lambda: recorded() >= args.steps // 3, 60), "the workflow did not progress"
        victim = status(url, workflow_id)[1]
        if args.signal == "stop":  # stalled, not dead: a GC pause, a frozen VM
            workers[victim].send_signal(signal.SIGSTOP)
        else:
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
        at_kill = recorded()
        survivor = "b" if victim == "a" else "a"
        print(f"SIG{args.signal.upper()} worker {victim} after {at_kill} of {args.steps} steps")
        took_over = wait(
            lambda: recorded() > at_kill + 1, args.watch_seconds, every=0.5
        )  # +1: a step in flight may have committed just before the kill
        print(
            f"within {args.watch_seconds:.0f} s the live worker {survivor} "
            f"{'took the workflow over' if took_over else 'did NOT take it over'}; "
            f"status {status(url, workflow_id)}"
        )
        if not took_over and args.recover == "restart":
            # What DBOS self-hosted expects: the dead executor comes back with its id
            # (a supervisor restarting it) and recovers its PENDING workflows at launch.
            workers[victim] = start_worker(url, victim, log_dir, **env)
            print(f"restarted a worker with executor id {victim}")
        elif not took_over:
            # The sweeper we would have to write: it must know that executor `victim` is
            # dead (DBOS self-hosted keeps no executor heartbeat) and hand its workflows back.
            pending = query(
                url,
                "SELECT workflow_uuid FROM dbos.workflow_status"
                " WHERE status = 'PENDING' AND executor_id = %s",
                victim,
            )
            for (pending_id,) in pending:
                client.resume_workflow(pending_id)
            print(f"sweeper: resume_workflow on {len(pending)} PENDING workflow(s) of {victim}")
        if args.signal == "stop":
            assert wait(lambda: recorded() > at_kill + 2, 60), "nobody took the workflow over"
            workers[victim].send_signal(signal.SIGCONT)
            print(f"SIGCONT worker {victim} once {survivor} had recorded more steps")
        result = handle.get_result(polling_interval_sec=0.1)
        elapsed = time.monotonic() - t0
        if args.signal == "stop":
            time.sleep(2 * args.step_seconds + 1)  # whatever the resumed worker still writes
        final = status(url, workflow_id)
        per_step = Counter(
            int(s)
            for (s,) in query(url, "SELECT step FROM steps WHERE workflow_id = %s", workflow_id)
        )
        twice = sorted(s for s, c in per_step.items() if c > 1)
        missing = sorted(set(range(args.steps)) - set(per_step))
        checkpoints = query(
            url,
            "SELECT count(*), count(DISTINCT function_id) FROM dbos.operation_outputs"
            " WHERE workflow_uuid = %s",
            workflow_id,
        )[0]
        by_executor = dict(
            query(
                url,
                "SELECT executor, count(*) FROM steps WHERE workflow_id = %s GROUP BY executor",
                workflow_id,
            )
        )
        workflows = query(url, "SELECT count(*) FROM dbos.workflow_status")[0][0]
        print(
            f"result {result}, status {final}, {elapsed:.1f} s; steps recorded by executor "
            f"{by_executor}; recorded twice: {twice or 'none'}; missing: {missing or 'none'}; "
            f"DBOS checkpoints {checkpoints[0]} ({checkpoints[1]} distinct); "
            f"workflow rows {workflows}"
        )
        ok = final[0] == "SUCCESS" and not twice and not missing and workflows == 1
        print("PASS" if ok else "FAIL")
        client.destroy()
        for process in workers.values():
            stop_worker(process)


def sqlite_main(args: argparse.Namespace) -> None:
    """The embedded default: one process on a SQLite file, SIGKILLed and started again."""
    import sqlite3

    env = {"SPIKE_STEP_SECONDS": str(args.step_seconds), "SPIKE_SLEEP_AFTER": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        log_dir = Path(tmp)
        url = f"sqlite:///{log_dir / 'spike.sqlite'}"
        with closing(sqlite3.connect(log_dir / "spike.sqlite")) as lite:
            lite.execute(STEPS_DDL.replace("double precision", "real"))
            lite.commit()
        server = start_worker(url, "local", log_dir, **env)
        client = DBOSClient(system_database_url=url)
        workflow_id = f"run-sqlite-{int(time.time())}"
        t0 = time.monotonic()
        handle = client.enqueue(
            {"queue_name": QUEUE, "workflow_name": "chain", "workflow_id": workflow_id},
            args.steps,
            "tx",
            url,
        )

        def recorded() -> int:
            sql = "SELECT count(*) FROM steps WHERE workflow_id = %s"
            return int(query(url, sql, workflow_id)[0][0])

        assert wait(lambda: recorded() >= args.steps // 3, 60), "the workflow did not progress"
        server.send_signal(signal.SIGKILL)
        server.wait()
        print(f"SIGKILLed the only process after {recorded()} of {args.steps} steps")
        server = start_worker(url, "local", log_dir, **env)
        result = handle.get_result(polling_interval_sec=0.1)
        per_step = Counter(
            int(s)
            for (s,) in query(url, "SELECT step FROM steps WHERE workflow_id = %s", workflow_id)
        )
        twice = sorted(s for s, c in per_step.items() if c > 1)
        missing = sorted(set(range(args.steps)) - set(per_step))
        final = status(url, workflow_id)
        print(
            f"restarted: result {result}, status {final}, {time.monotonic() - t0:.1f} s;"
            f" recorded twice: {twice or 'none'}; missing: {missing or 'none'}"
        )
        print("PASS" if final[0] == "SUCCESS" and not twice and not missing else "FAIL")
        client.destroy()
        stop_worker(server)


def schedule_main(args: argparse.Namespace) -> None:
    url = fresh_database(args.admin)
    with tempfile.TemporaryDirectory() as tmp:
        log_dir = Path(tmp)
        workers = [start_worker(url, e, log_dir, "--schedule") for e in ("a", "b")]
        t0 = time.time()
        time.sleep(args.seconds)
        for process in workers:
            stop_worker(process)
        t1 = time.time()
    fires = query(url, "SELECT fire_time, executor FROM fires ORDER BY fire_time")
    per_time = Counter(f for f, _ in fires)
    by_executor = Counter(e for _, e in fires)
    dupes = {f: c for f, c in per_time.items() if c > 1}
    times = sorted(datetime.fromisoformat(f).timestamp() for f in per_time)
    gaps = [round(b - a) - 1 for a, b in itertools.pairwise(times) if b - a > 1.5]
    lateness = query(
        url,
        "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY"
        " started_at_epoch_ms - (EXTRACT(EPOCH FROM"
        " (substring(workflow_uuid from 'sched-every-second-(.*)$'))::timestamptz) * 1000))"
        " FROM dbos.workflow_status WHERE workflow_uuid LIKE 'sched-every-second-%%'",
    )[0][0]
    print(
        f"{args.seconds:.0f} s ({t1 - t0:.0f} s with start/stop), two processes: "
        f"{len(per_time)} fire times, {len(fires)} runs, by executor {dict(by_executor)}; "
        f"fire times run more than once: {len(dupes)} {list(dupes.items())[:5]}; "
        f"fire times skipped between the first and last: {sum(gaps)}; "
        f"start lateness p50/p99 ms: {lateness}"
    )
    print("PASS" if not dupes and not sum(gaps) else "FAIL")


def overhead_main(args: argparse.Namespace) -> None:
    results: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("PostgreSQL", fresh_database(args.admin))]
        sqlite_file = Path(tmp) / "spike.sqlite"
        targets.append(("SQLite", f"sqlite:///{sqlite_file}"))
        for label, url in targets:
            if url.startswith("sqlite"):
                import sqlite3

                with sqlite3.connect(sqlite_file) as conn:
                    conn.execute(STEPS_DDL.replace("double precision", "real"))
            launch(url, url, "local")
            for mode in ("noop", "step", "tx"):
                samples = []
                for r in range(args.repeat):
                    t0 = time.perf_counter()
                    handle = DBOS.start_workflow(chain, args.steps, mode, url)
                    assert handle.get_result() == args.steps
                    samples.append(time.perf_counter() - t0)
                    del r
                best = sorted(samples)[len(samples) // 2]
                results.append(
                    f"| {label} | {mode} | {args.steps} | {best * 1000:,.0f} ms | "
                    f"{best * 1000 / args.steps:.3f} ms | {args.steps / best:,.0f} |"
                )
                print(results[-1], flush=True)
            DBOS.destroy(destroy_registry=False)
    print("| database | step | steps | workflow | per step | steps/s |")
    print("|---|---|---|---|---|---|")
    print("\n".join(results))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--admin", default=ADMIN)
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker")
    worker.add_argument("--url", required=True)
    worker.add_argument("--executor", required=True)
    worker.add_argument("--schedule", action="store_true")
    kill = sub.add_parser("kill")
    kill.add_argument("--steps", type=int, default=50)
    kill.add_argument("--step-seconds", type=float, default=0.05)
    kill.add_argument("--mode", choices=("tx", "step"), default="tx")
    kill.add_argument("--watch-seconds", type=float, default=15.0)
    kill.add_argument("--signal", choices=("kill", "stop"), default="kill")
    kill.add_argument("--sleep-after", action="store_true", help="step's work after its write")
    kill.add_argument("--recover", choices=("resume", "restart"), default="resume")
    lite = sub.add_parser("sqlite-kill")
    lite.add_argument("--steps", type=int, default=50)
    lite.add_argument("--step-seconds", type=float, default=0.05)
    schedule = sub.add_parser("schedule")
    schedule.add_argument("--seconds", type=float, default=60.0)
    overhead = sub.add_parser("overhead")
    overhead.add_argument("--steps", type=int, default=1000)
    overhead.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    commands = {"worker": worker_main, "kill": kill_main, "sqlite-kill": sqlite_main}
    {**commands, "schedule": schedule_main}.get(args.command, overhead_main)(args)


if __name__ == "__main__":
    main()
