"""Live-query delivery: one change -> N subscribers; idle sockets; cross-instance via Redis.

    python bench/sync_fanout.py fanout --subscribers 1000 --changes 20
    python bench/sync_fanout.py idle --sockets 10000
    python bench/sync_fanout.py cross --changes 200      (PostgreSQL + Redis, two servers)

Delivery time is measured from just before the PATCH is sent to the moment each
subscriber has received the new value (so it includes the write itself).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import secrets
import sys
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bare_ws import BareSocket
from _server import running_server, seed

LIMITS = {"MINIBASE_SYNC_MAX_SOCKETS_PER_USER": "1000000", "MINIBASE_SYNC_QUEUE_LIMIT": "4096"}


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


async def _subscribe(url: str, org: str, flow: str) -> BareSocket:
    hostport, _, path = url.removeprefix("ws://").partition("/")
    host, port = hostport.split(":")
    ws = await BareSocket.connect(host, int(port), "/" + path)
    query = {"orgId": org, "flowId": flow}
    ws.send_text(json.dumps({"type": "subscribe", "id": "q", "query": "flows.get", "args": query}))
    await ws.recv()
    return ws


async def _wait_version(ws: BareSocket, version: int) -> float:
    # The frame ends with "version":N}; reading just that keeps the load generator light.
    marker = f'"version":{version}}}'.encode()
    while True:
        frame = await ws.recv()
        if frame.endswith(marker):
            return time.perf_counter()


async def measure(
    write_url: str, ws_url: str, ids: dict[str, str], subscribers: int, changes: int
) -> list[float]:
    sockets = []
    for start in range(0, subscribers, 200):
        batch = [
            _subscribe(ws_url, ids["org"], ids["flow"])
            for _ in range(min(200, subscribers - start))
        ]
        sockets += await asyncio.gather(*batch)
    delays: list[float] = []
    headers = {"Authorization": f"Bearer {ids['token']}"}
    async with httpx.AsyncClient(base_url=write_url, headers=headers) as client:
        url = f"/v1/orgs/{ids['org']}/flows/{ids['flow']}"
        for i in range(changes):
            waiters = [asyncio.create_task(_wait_version(ws, i + 2)) for ws in sockets]
            t0 = time.perf_counter()
            r = await client.patch(url, json={"ops": [{"op": "rename", "name": f"v{i}"}]})
            assert r.status_code == 200, r.text
            done = await asyncio.gather(*waiters)
            delays += [(t - t0) * 1000 for t in done]
    for ws in sockets:
        ws.close()
    return delays


def report(label: str, delays: list[float]) -> None:
    print(
        f"| {label} | {len(delays)} | {pct(delays, 50):.1f} | {pct(delays, 99):.1f} | "
        f"{max(delays):.1f} |"
    )


def fanout(args: argparse.Namespace) -> None:
    with running_server("sqlite", LIMITS) as server:
        ids = asyncio.run(seed(server.base_url))
        ws_url = f"ws://127.0.0.1:{server.port}/v1/sync?token={ids['token']}"
        delays = asyncio.run(measure(server.base_url, ws_url, ids, args.subscribers, args.changes))
    print("| case | deliveries | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|")
    report(f"one change -> {args.subscribers} subscribers (one instance, SQLite)", delays)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _hold(url: str, count: int) -> list[websockets.ClientConnection]:
    sockets: list[websockets.ClientConnection] = []
    for start in range(0, count, 500):
        batch = [websockets.connect(url, open_timeout=120) for _ in range(min(500, count - start))]
        sockets += await asyncio.gather(*batch)
    return sockets


def idle(args: argparse.Namespace) -> None:
    with running_server("sqlite", LIMITS) as server:
        ids = asyncio.run(seed(server.base_url))
        before = rss_mb(server.process.pid)
        url = f"ws://127.0.0.1:{server.port}/v1/sync?token={ids['token']}"

        async def run() -> float:
            sockets = await _hold(url, args.sockets)
            await asyncio.sleep(2)  # let the server settle before reading its memory
            after = rss_mb(server.process.pid)
            await asyncio.gather(*(ws.close() for ws in sockets))
            return after

        after = asyncio.run(run())
    print("| idle sockets | server RSS before | server RSS with sockets | per socket |")
    print("|---|---|---|---|")
    print(
        f"| {args.sockets} | {before:.0f} MB | {after:.0f} MB | "
        f"{(after - before) * 1024 / args.sockets:.1f} KB |"
    )


def cross(args: argparse.Namespace) -> None:
    env = {
        **LIMITS,
        "MINIBASE_REDIS_URL": "redis://127.0.0.1:6379/0",
        "MINIBASE_REDIS_PREFIX": f"mbbench{secrets.token_hex(3)}:",
    }
    with running_server("postgres", env) as a:
        database_env = {**env, "MINIBASE_DATABASE_URL": a.env["MINIBASE_DATABASE_URL"]}
        from tests.process import ServerProcess

        b = ServerProcess(Path(a.log_path.parent) / "b", env=database_env)
        try:
            b.wait_ready(60)
            ids = asyncio.run(seed(a.base_url))
            ws_url = f"ws://127.0.0.1:{b.port}/v1/sync?token={ids['token']}"
            delays = asyncio.run(measure(a.base_url, ws_url, ids, args.subscribers, args.changes))
        finally:
            b.stop()
    print("| case | deliveries | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|")
    report(f"write on A -> {args.subscribers} subscriber(s) on B via Redis (PostgreSQL)", delays)


def main() -> None:
    raise_fd_limit()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="case", required=True)
    f = sub.add_parser("fanout")
    f.add_argument("--subscribers", type=int, default=1000)
    f.add_argument("--changes", type=int, default=20)
    i = sub.add_parser("idle")
    i.add_argument("--sockets", type=int, default=10000)
    c = sub.add_parser("cross")
    c.add_argument("--subscribers", type=int, default=1)
    c.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    print("command: python bench/sync_fanout.py " + " ".join(sys.argv[1:]))
    {"fanout": fanout, "idle": idle, "cross": cross}[args.case](args)


if __name__ == "__main__":
    main()
