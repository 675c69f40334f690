"""Yjs fan-out: one edit → N bare-socket readers of one flow; p50/p99 delivery latency.

Reproduce (from the repository root):

    PYTHONPATH=src python bench/collab_fanout.py --readers 100 --edits 200

It starts one server process (uvicorn, SQLite in a temporary directory, the collab
endpoint with an allow-all authorizer), connects ``--readers`` websocket readers that
only timestamp frames (no Yjs decoding, so the load generator is not the bottleneck),
and one pycrdt writer that makes ``--edits`` small edits (a node drag), one at a time.
Latency is measured from just before the writer sends an edit until each reader has
received the broadcast frame. ``--writers W`` additionally runs W writers that edit as
fast as the server acknowledges, and reports the accepted updates per second.

``--against DIR`` compares with another source tree of Minibase (say, the commit before a
change, checked out with ``git worktree add DIR REV``): each of ``--repeat`` rounds runs
this tree's server, then DIR's, with the same load generator, and the medians are
reported side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "bench")]

from _yjs_edits import EditUpdates  # noqa: E402


async def serve(port: int, data_dir: Path, root: Path) -> None:
    sys.path[:0] = [str(root / "src"), str(root)]
    import uvicorn
    from tests.collab.fakes import MemoryAuthorizer, MemoryBridge, create_flow, node

    from minibase.app import create_app

    try:
        from minibase.collab.options import CollabOptions
    except ImportError:  # a tree from before the room split (--against)
        from minibase.collab.room import CollabOptions  # type: ignore[no-redef]
    from minibase.config import Settings
    from minibase.store.database import Database
    from minibase.store.migrate import migrate
    from minibase.store.unit_of_work import Store

    settings = Settings(data_dir=data_dir, log_level="warning")
    await migrate(settings)
    bridge = MemoryBridge()
    authorizer = MemoryAuthorizer(bridge)
    database = Database(settings)
    flow = {"name": "Bench", "nodes": [node(f"n{i}", i * 10, 0) for i in range(100)], "edges": []}
    org_id, flow_id = await create_flow(Store(database), bridge, flow)
    await database.close()
    authorizer.add("bench", org_id)
    app = create_app(
        settings,
        run_migrations=False,
        collab_authorizer=lambda ctx: authorizer,
        flow_bridge=lambda ctx: bridge,
        collab_options=CollabOptions(materialize_delay=2.0),
    )
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        ws_per_message_deflate=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
        await asyncio.sleep(0.01)
    print(json.dumps({"org": org_id, "flow": flow_id}), flush=True)
    await task


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace, root: Path = ROOT) -> dict[str, Any]:
    from pycrdt import Doc, Map
    from tests.process import free_port
    from websockets.asyncio.client import connect

    from minibase.collab import protocol

    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="mb-bench-"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        str(port),
        str(data_dir),
        str(root),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"},
    )
    assert proc.stdout is not None
    ids = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
    url = f"ws://127.0.0.1:{port}/v1/collab/{ids['org']}/{ids['flow']}?token=bench"
    try:
        arrivals: list[list[float]] = [[] for _ in range(args.readers)]

        async def reader(i: int, ready: asyncio.Event) -> None:
            async with connect(url, compression=None, max_size=None) as ws:
                await ws.send(protocol.sync_step1(b"\x00"))
                while True:
                    frame = await ws.recv()
                    assert isinstance(frame, bytes)
                    if frame[:2] == b"\x00\x01":  # step 2: now in the broadcast
                        ready.set()
                    elif frame[:2] == b"\x00\x02":
                        arrivals[i].append(time.perf_counter())

        readies = [asyncio.Event() for _ in range(args.readers)]
        tasks = [asyncio.create_task(reader(i, readies[i])) for i in range(args.readers)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)

        doc: Doc[Any] = Doc()
        async with connect(url, compression=None, max_size=None) as writer:
            await writer.send(protocol.sync_step1(b"\x00"))
            while True:
                message = protocol.decode_message(await writer.recv())  # type: ignore[arg-type]
                if isinstance(message, protocol.SyncStep2):
                    doc.apply_update(message.update)
                    break
            nodes = doc.get("nodes", type=Map)
            edits = EditUpdates(doc)
            sent: list[float] = []
            for k in range(args.edits):
                nodes[f"n{k % 100}"]["position"] = {"x": k, "y": k}
                update = edits.take()
                sent.append(time.perf_counter())
                await writer.send(protocol.sync_update(update))
                deadline = time.perf_counter() + 10
                while any(len(a) <= k for a in arrivals):
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"edit {k} not delivered to every reader")
                    await asyncio.sleep(0.0005)
                await asyncio.sleep(args.gap)
        latencies = [(a[k] - sent[k]) * 1000 for a in arrivals for k in range(args.edits)]
        result: dict[str, Any] = {
            "readers": args.readers,
            "edits": args.edits,
            "p50_ms": round(statistics.median(latencies), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(max(latencies), 2),
        }
        if args.writers:  # the readers stay connected and receive every broadcast
            result["writers"] = args.writers
            result["updates_per_s"] = await throughput(url, args.writers, args.seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return result
    finally:
        proc.terminate()
        await proc.wait()


async def throughput(url: str, writers: int, seconds: float) -> float:
    """W writers each send an edit, wait for its broadcast echo, repeat; accepted updates/s."""
    from pycrdt import Doc, Map
    from websockets.asyncio.client import connect

    from minibase.collab import protocol

    count = 0
    stop = time.perf_counter() + seconds

    async def writer(i: int) -> None:
        nonlocal count
        doc: Doc[Any] = Doc()
        async with connect(url, compression=None, max_size=None) as ws:
            await ws.send(protocol.sync_step1(b"\x00"))
            while not isinstance(m := protocol.decode_message(await ws.recv()), protocol.SyncStep2):  # type: ignore[arg-type]
                pass
            doc.apply_update(m.update)
            nodes = doc.get("nodes", type=Map)
            edits = EditUpdates(doc)
            k = 0
            while time.perf_counter() < stop:
                nodes[f"n{i % 100}"]["position"] = {"x": k, "y": i}
                k += 1
                await ws.send(protocol.sync_update(edits.take()))
                count += 1
                # Wait for a broadcast frame (ours, possibly merged with others).
                while (await ws.recv())[:2] != b"\x00\x02":
                    pass

    started = time.perf_counter()
    await asyncio.gather(*(writer(i) for i in range(writers)))
    return round(count / (time.perf_counter() - started), 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.005, help="seconds between edits")
    parser.add_argument("--writers", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--against", type=Path, help="another source tree to compare with")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (with --against)")
    parser.add_argument(
        "--serve", nargs=3, metavar=("PORT", "DATA_DIR", "ROOT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(int(args.serve[0]), Path(args.serve[1]), Path(args.serve[2])))
        return
    command = "PYTHONPATH=src python bench/collab_fanout.py " + " ".join(
        f"--{k} {v}"
        for k, v in (
            ("readers", args.readers),
            ("edits", args.edits),
            ("writers", args.writers),
            ("against", args.against),
            ("repeat", args.repeat if args.against else 0),
        )
        if v
    )
    if args.against is not None:
        compare(args, args.against.resolve())
        print(f"reproduce: {command}")
        return
    result = asyncio.run(run(args))
    print(json.dumps(result))
    p50, p99 = result["p50_ms"], result["p99_ms"]
    print(f"one edit -> {result['readers']} readers: p50 {p50} ms, p99 {p99} ms")
    if "updates_per_s" in result:
        print(f"{args.writers} writers: {result['updates_per_s']} accepted updates/s")
    print(f"reproduce: {command}")


def compare(args: argparse.Namespace, other: Path) -> None:
    """Alternate this tree's server and ``other``'s; print every run and the medians."""
    runs: dict[str, list[dict[str, Any]]] = {"this": [], "against": []}
    for _ in range(args.repeat):
        runs["this"].append(asyncio.run(run(args)))
        runs["against"].append(asyncio.run(run(args, other)))
    keys = ["p50_ms", "p99_ms"] + (["updates_per_s"] if args.writers else [])
    summary = {
        name: {key: statistics.median(r[key] for r in results) for key in keys}
        for name, results in runs.items()
    }
    print(json.dumps({"runs": runs, "median": summary}))
    for key in keys:
        row = ", ".join(f"{r[key]}" for r in runs["this"])
        base = ", ".join(f"{r[key]}" for r in runs["against"])
        ratio = summary["this"][key] / summary["against"][key]
        print(f"{key}: this tree {row} | {other} {base} | median ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
