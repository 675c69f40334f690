"""Live-query delivery: one change -> N subscribers; idle sockets; cross-instance via Redis.

    python bench/sync_fanout.py fanout --subscribers 1000 --changes 20
    python bench/sync_fanout.py idle --sockets 10000
    python bench/sync_fanout.py cross --changes 200      (PostgreSQL + Redis, two servers)
    python bench/sync_fanout.py compare --before main --repeat 5   (this tree vs a revision)

Delivery time is measured from just before the PATCH is sent to the moment each
subscriber has received the new value (so it includes the write itself).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bare_ws import BareSocket, freeze_heap
from _server import ROOT, running_server, seed

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


class Watch(asyncio.Protocol):
    """A subscriber after its first value (``--light``): the arrival time of a marker.

    The time is taken in ``data_received``, when the event loop hands over the bytes,
    without a task or a frame parser per socket and change: the load generator's own
    cost per delivery falls to a substring search, so more of what is measured is the
    server. Server frames are unmasked and uncompressed, so the marker
    (``"version":N}``) is found in the raw stream; a chunk's tail is kept in case the
    marker is split across reads.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.marker = b""
        self.tail = b""
        self.waiter: asyncio.Future[float] | None = None

    def expect(self, marker: bytes) -> asyncio.Future[float]:
        self.marker, self.tail = marker, b""
        self.waiter = self.loop.create_future()
        return self.waiter

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:
            return
        buffer = self.tail + data if self.tail else data
        if self.marker in buffer:
            waiter, self.waiter = self.waiter, None
            if not waiter.done():
                waiter.set_result(time.perf_counter())
        else:
            self.tail = buffer[-(len(self.marker) - 1) :]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("server closed the socket"))


async def _connect_all(ws_url: str, ids: dict[str, str], subscribers: int) -> list[BareSocket]:
    sockets = []
    for start in range(0, subscribers, 200):
        batch = [
            _subscribe(ws_url, ids["org"], ids["flow"])
            for _ in range(min(200, subscribers - start))
        ]
        sockets += await asyncio.gather(*batch)
    return sockets


async def _changes(
    client: httpx.AsyncClient,
    sockets: list[BareSocket],
    ids: dict[str, str],
    first_version: int,
    changes: int,
    light: bool = False,
) -> list[float]:
    delays: list[float] = []
    url = f"/v1/orgs/{ids['org']}/flows/{ids['flow']}"
    watches = _watches(sockets) if light else []
    freeze_heap()
    for i in range(changes):
        version = first_version + i
        waiters: list[Any]
        if light:
            marker = f'"version":{version}}}'.encode()
            waiters = [watch.expect(marker) for watch in watches]
        else:
            waiters = [asyncio.create_task(_wait_version(ws, version)) for ws in sockets]
        t0 = time.perf_counter()
        r = await client.patch(url, json={"ops": [{"op": "rename", "name": f"v{version}"}]})
        assert r.status_code == 200, r.text
        done = await asyncio.gather(*waiters)
        delays += [(t - t0) * 1000 for t in done]
    return delays


def _watches(sockets: list[BareSocket]) -> list[Watch]:
    """Hand each socket's transport to a :class:`Watch` (once; later calls reuse it)."""
    loop = asyncio.get_running_loop()
    watches = []
    for ws in sockets:
        protocol = ws.writer.transport.get_protocol()
        if not isinstance(protocol, Watch):
            protocol = Watch(loop)
            ws.writer.transport.set_protocol(protocol)
        watches.append(protocol)
    return watches


async def measure(
    write_url: str,
    ws_url: str,
    ids: dict[str, str],
    subscribers: int,
    changes: int,
    light: bool = False,
) -> list[float]:
    sockets = await _connect_all(ws_url, ids, subscribers)
    headers = {"Authorization": f"Bearer {ids['token']}"}
    async with httpx.AsyncClient(base_url=write_url, headers=headers) as client:
        delays = await _changes(client, sockets, ids, 2, changes, light)
    for ws in sockets:
        ws.close()
    return delays


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def source_tree(revision: str) -> Iterator[Path]:
    """``revision`` of this repository exported to a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="minibase-before-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        yield Path(tmp)


def compare(args: argparse.Namespace) -> None:
    """This tree against ``--before``, both servers up at once, measured in turn."""
    trees = {"before": args.before, "after": None}
    with ExitStack() as stack:
        servers = {}
        for name, revision in trees.items():
            env = dict(LIMITS)
            if revision is not None:
                env["PYTHONPATH"] = str(stack.enter_context(source_tree(revision)) / "src")
            servers[name] = stack.enter_context(running_server("sqlite", env))

        async def run() -> dict[str, list[tuple[float, float, float]]]:
            runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
            targets = []
            for name, server in servers.items():
                ids = await seed(server.base_url)
                ws_url = f"ws://127.0.0.1:{server.port}/v1/sync?token={ids['token']}"
                sockets = await _connect_all(ws_url, ids, args.subscribers)
                headers = {"Authorization": f"Bearer {ids['token']}"}
                client = httpx.AsyncClient(base_url=server.base_url, headers=headers)
                targets.append((name, server, ids, sockets, client))
            version = 2
            for _ in range(args.repeat):
                for name, server, ids, sockets, client in targets:
                    cpu = cpu_seconds(server.process.pid)
                    delays = await _changes(client, sockets, ids, version, args.changes, args.light)
                    per_change = (cpu_seconds(server.process.pid) - cpu) * 1000 / args.changes
                    runs[name].append((pct(delays, 50), pct(delays, 99), per_change))
                version += args.changes
            for _, _, _, sockets, client in targets:
                await client.aclose()
                for ws in sockets:
                    ws.close()
            return runs

        runs = asyncio.run(run())
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("| server | runs | p50 ms (median) | p99 ms (median) | server CPU ms per change |")
    print("|---|---|---|---|---|")
    for name, results in runs.items():
        p50 = statistics.median(r[0] for r in results)
        p99 = statistics.median(r[1] for r in results)
        cpu = statistics.median(r[2] for r in results)
        label = f"{name} ({trees[name] or 'this tree'})"
        print(f"| {label} | {len(results)} | {p50:.1f} | {p99:.1f} | {cpu:.1f} |")
    for name, results in runs.items():
        print(name, "p99 per run:", " ".join(f"{r[1]:.0f}" for r in results))


def report(label: str, delays: list[float]) -> None:
    print(
        f"| {label} | {len(delays)} | {pct(delays, 50):.1f} | {pct(delays, 99):.1f} | "
        f"{max(delays):.1f} |"
    )


def fanout(args: argparse.Namespace) -> None:
    with running_server("sqlite", LIMITS) as server:
        ids = asyncio.run(seed(server.base_url))
        ws_url = f"ws://127.0.0.1:{server.port}/v1/sync?token={ids['token']}"
        delays = asyncio.run(
            measure(server.base_url, ws_url, ids, args.subscribers, args.changes, args.light)
        )
    print("| case | deliveries | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|")
    reader = ", light readers" if args.light else ""
    report(f"one change -> {args.subscribers} subscribers (one instance, SQLite{reader})", delays)


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
    f.add_argument("--light", action="store_true", help="timestamp in data_received (Watch)")
    i = sub.add_parser("idle")
    i.add_argument("--sockets", type=int, default=10000)
    v = sub.add_parser("compare", help="this tree against --before, alternating runs")
    v.add_argument("--before", default="main")
    v.add_argument("--subscribers", type=int, default=1000)
    v.add_argument("--changes", type=int, default=20)
    v.add_argument("--repeat", type=int, default=5)
    v.add_argument("--light", action="store_true", help="timestamp in data_received (Watch)")
    c = sub.add_parser("cross")
    c.add_argument("--subscribers", type=int, default=1)
    c.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    print("command: python bench/sync_fanout.py " + " ".join(sys.argv[1:]))
    {"fanout": fanout, "idle": idle, "cross": cross, "compare": compare}[args.case](args)


if __name__ == "__main__":
    main()
