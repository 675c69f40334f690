"""Backup, verify and restore throughput; organization export and import time and memory.

    python bench/care_of_data.py [--backup-mb 1024] [--versions 10000] [--outputs 100000]

Part 1 (SQLite): a deployment grown to ``--backup-mb`` MB (node outputs of random,
incompressible bytes) is backed up, verified and restored by the services the CLI uses;
the baseline, measured in the same invocation, is a plain copy of the database file
(``shutil.copyfile``), so the ratio says what the snapshot, checksums and zip cost.

Part 2 (SQLite): an organization with ``--versions`` flow versions and ``--outputs``
node outputs is exported (the streamed archive, written to a file) and imported into a
fresh deployment (``ids=new``); then the same at a tenth of the size. Each step runs in
its own process, whose peak resident memory is reported: flat memory means the two sizes
peak alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from minibase.config import Settings
from minibase.domain.principal import SYSTEM, Principal
from minibase.ids import new_id, now_ms
from minibase.services import backups, org_import
from minibase.services.audit import RequestMeta
from minibase.services.org_export import export_org
from minibase.store.backup import Progress, sqlite_path
from minibase.store.database import Database
from minibase.store.migrate import migrate
from minibase.store.unit_of_work import Store

MB = 1_000_000


def _fresh(directory: Path) -> Settings:
    settings = Settings(data_dir=directory, database_url="")
    asyncio.run(migrate(settings))
    return settings


def _org(conn: sqlite3.Connection) -> tuple[str, str, str]:
    org_id, user_id, flow_id = new_id("org"), new_id("usr"), new_id("flow")
    now = now_ms()
    conn.execute(
        "INSERT INTO users (id, email, name, password_hash, created_at, password_changed_at) "
        "VALUES (?, ?, 'Bench', 'x', ?, ?)",
        (user_id, f"{user_id}@example.com", now, now),
    )
    conn.execute(
        "INSERT INTO organizations (id, name, settings, plan, nodes_used, flows_created, "
        "storage_used, created_at, updated_at) VALUES (?, 'Bench', '{}', 'enterprise', 0, 0, "
        "0, ?, ?)",
        (org_id, now, now),
    )
    conn.execute(
        "INSERT INTO memberships (organization_id, user_id, role, created_at) "
        "VALUES (?, ?, 'admin', ?)",
        (org_id, user_id, now),
    )
    return org_id, user_id, flow_id


def _flow(conn: sqlite3.Connection, org_id: str, user_id: str, flow_id: str, version: int) -> None:
    now = now_ms()
    doc = orjson.dumps({"nodes": [{"id": "a", "position": {"x": 0, "y": 0}, "data": {}}],
                        "edges": []})  # fmt: skip
    conn.execute(
        "INSERT INTO flows (organization_id, id, name, document, node_count, edge_count, "
        "size_bytes, history_bytes, version, created_by, created_at, last_modified) "
        "VALUES (?, ?, 'F', ?, 1, 0, ?, 0, ?, ?, ?, ?)",
        (org_id, flow_id, doc, len(doc), version, user_id, now, now),
    )


def grow_backup_db(settings: Settings, megabytes: int) -> None:
    conn = sqlite3.connect(sqlite_path(settings))
    org_id, user_id, flow_id = _org(conn)
    _flow(conn, org_id, user_id, flow_id, 1)
    blob = 256 * 1024
    for i in range(megabytes * MB // blob):
        conn.execute(
            "INSERT INTO node_outputs (organization_id, id, flow_id, node_id, output, "
            "timestamp, compute_time, size_bytes, cached) VALUES (?, ?, ?, 'a', ?, ?, 1.0, ?, 0)",
            (org_id, f"out_{i:08d}", flow_id, os.urandom(blob), now_ms(), blob),
        )
        if i % 200 == 0:
            conn.commit()
    conn.commit()
    conn.close()


def grow_org(settings: Settings, versions: int, outputs: int) -> str:
    conn = sqlite3.connect(sqlite_path(settings))
    org_id, user_id, _ = _org(conn)
    per_flow = 100
    flows = max(1, versions // per_flow)
    payload = os.urandom(200)
    for f in range(flows):
        flow_id = f"flow_{f:06d}"
        _flow(conn, org_id, user_id, flow_id, per_flow)
        conn.executemany(
            "INSERT INTO flow_versions (organization_id, flow_id, version, created_by, "
            "created_at, summary, kind, payload, size_bytes) VALUES (?, ?, ?, ?, ?, '{}', "
            "'delta', ?, 200)",
            [(org_id, flow_id, v, user_id, now_ms(), payload) for v in range(1, per_flow + 1)],
        )
    output = orjson.dumps({"value": 1234, "text": "x" * 80})
    for start in range(0, outputs, 10_000):
        conn.executemany(
            "INSERT INTO node_outputs (organization_id, id, flow_id, node_id, output, "
            "timestamp, compute_time, size_bytes, cached) VALUES (?, ?, ?, 'a', ?, ?, 1.5, ?, 0)",
            [
                (org_id, f"out_{i:08d}", f"flow_{i % flows:06d}", output, now_ms(), len(output))
                for i in range(start, min(outputs, start + 10_000))
            ],
        )
    conn.commit()
    conn.close()
    return org_id


# --- steps, each in its own process ------------------------------------------------------


async def _export(data_dir: str, org_id: str, out: str) -> int:
    database = Database(Settings(data_dir=Path(data_dir), database_url=""))
    written = 0
    try:
        with open(out, "wb") as target:  # noqa: ASYNC230 - a benchmark step: nothing else runs
            async for chunk in export_org(Store(database), SYSTEM, org_id):
                target.write(chunk)
                written += len(chunk)
    finally:
        await database.close()
    return written


async def _import(data_dir: str, archive: str) -> int:
    settings = Settings(data_dir=Path(data_dir), database_url="")
    conn = sqlite3.connect(sqlite_path(settings))
    user_id = new_id("usr")
    conn.execute(
        "INSERT INTO users (id, email, name, password_hash, created_at, password_changed_at) "
        "VALUES (?, ?, 'Importer', 'x', 0, 0)",
        (user_id, f"{user_id}@example.com"),
    )
    conn.commit()
    conn.close()
    database = Database(settings)
    try:
        checked = org_import.check(Path(archive))
        principal = Principal(kind="user", id=user_id, credential_id="bench", user_id=user_id)
        result = await org_import.import_org(
            Store(database), principal, checked, ids="new", keep_plan=True,
            meta=RequestMeta(ip=None, user_agent="bench"),
        )  # fmt: skip
        checked.zf.close()
        return sum(result["report"]["counts"].values())
    finally:
        await database.close()


def step(name: str, args: list[str]) -> None:
    started = time.perf_counter()
    if name == "export":
        value = asyncio.run(_export(*args))
    elif name == "import":
        value = asyncio.run(_import(*args))
    else:
        raise SystemExit(f"unknown step {name}")
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peakMB": peak_kb / 1024, "value": value}))


def run_step(name: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--step", name, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- parts ------------------------------------------------------------------------------


def part_backup(root: Path, megabytes: int) -> None:
    settings = _fresh(root / "source")
    grow_backup_db(settings, megabytes)
    db = sqlite_path(settings)
    size = db.stat().st_size
    started = time.perf_counter()
    shutil.copyfile(db, root / "plain-copy.db")
    copy_s = time.perf_counter() - started
    (root / "plain-copy.db").unlink()
    archive = root / "backups" / "b.zip"
    quiet = Progress()
    timings = {}
    started = time.perf_counter()
    asyncio.run(backups.take(settings, archive, quiet))
    timings["backup"] = time.perf_counter() - started
    started = time.perf_counter()
    report = asyncio.run(backups.verify(settings, archive, quiet))
    timings["verify"] = time.perf_counter() - started
    assert report.ok, report.problems
    target = Settings(data_dir=root / "restored", database_url="")
    started = time.perf_counter()
    asyncio.run(backups.restore(target, archive, quiet))
    timings["restore"] = time.perf_counter() - started
    print(f"\nSQLite database of {size / MB:.0f} MB")
    print("| step | seconds | MB/s | time / plain file copy |")
    print("|---|---|---|---|")
    print(f"| plain file copy (baseline) | {copy_s:.2f} | {size / MB / copy_s:.0f} | 1.00 |")
    for name, seconds in timings.items():
        rate = size / MB / seconds
        print(f"| {name} | {seconds:.2f} | {rate:.0f} | {seconds / copy_s:.2f} |")
    shutil.rmtree(root / "restored", ignore_errors=True)
    shutil.rmtree(root / "source", ignore_errors=True)
    archive.unlink()


def part_org(root: Path, versions: int, outputs: int) -> None:
    print("\nOrganization export and import (ids=new), SQLite, each step in its own process")
    print("| versions | outputs | archive MB | export s | export peak RSS MB | import s "
          "| import peak RSS MB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for scale in (10, 1):
        v, o = versions // scale, outputs // scale
        source = _fresh(root / f"org-{scale}")
        org_id = grow_org(source, v, o)
        archive = root / f"org-{scale}.zip"
        exported = run_step("export", str(source.data_dir), org_id, str(archive))
        target = _fresh(root / f"import-{scale}")
        imported = run_step("import", str(target.data_dir), str(archive))
        print(
            f"| {v} | {o} | {archive.stat().st_size / MB:.2f} | {exported['seconds']:.2f} "
            f"| {exported['peakMB']:.0f} | {imported['seconds']:.2f} | {imported['peakMB']:.0f} |"
        )
        shutil.rmtree(source.data_dir, ignore_errors=True)
        shutil.rmtree(target.data_dir, ignore_errors=True)
        archive.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backup-mb", type=int, default=1024)
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--outputs", type=int, default=100_000)
    parser.add_argument("--skip-backup", action="store_true")
    parser.add_argument("--skip-org", action="store_true")
    parser.add_argument("--step", default=None, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.step:
        step(args.step, rest)
        return
    print("command: python bench/care_of_data.py " + " ".join(sys.argv[1:]))
    with tempfile.TemporaryDirectory(prefix="minibase-bench-", dir="/var/tmp") as tmp:
        root = Path(tmp)
        if not args.skip_backup:
            part_backup(root, args.backup_mb)
        if not args.skip_org:
            part_org(root, args.versions, args.outputs)


if __name__ == "__main__":
    main()
