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

DELIVERY_TIMEOUT = 30.0
"""Seconds a change may take to reach every subscriber before the run fails."""

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
    """``--stream-readers``: read frames with a task per socket and change."""
    marker = f'"version":{version}}}'.encode()
    while True:
        frame = await ws.recv()
        if frame.endswith(marker):
            return time.perf_counter()


class FrameReader(asyncio.Protocol):
    """A subscriber after its first value: frames parsed as the event loop hands over bytes.

    Every frame is parsed (RFC 6455 header, payload length), and a value counts as
    received when a complete text frame starting ``{"type":"result","id":"q"`` and ending
    with ``"version":N}`` is in. Its time is taken in ``data_received``, with no task or
    stream per socket and change: the work per delivery is a header parse and two slices.

    Why not one task per socket reading an ``asyncio.StreamReader`` (``--stream-readers``)?
    1,000 subscribers share one Python process on the two cores the server also uses, and
    that reader copies each 22 KB frame twice and steps 1,000 tasks per change: it fell
    behind the server, and its backlog (up to 30 ms per change) was read as the server's
    delivery time. Real subscribers are 1,000 processes that parse one frame each.
    """

    HEAD = b'{"type":"result","id":"q"'

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.marker = b""
        self.waiter: asyncio.Future[float] | None = None
        self.buffer = b""  # an incomplete frame header
        self.remaining = 0  # payload bytes of the current frame still to come
        self.head = b""  # the current payload's first bytes
        self.tail = b""  # and its last ones
        self.opcode = 0

    def expect(self, version: int) -> asyncio.Future[float]:
        self.marker = f'"version":{version}}}'.encode()
        self.waiter = self.loop.create_future()
        return self.waiter

    def data_received(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.remaining:
                chunk, view = view[: self.remaining], view[self.remaining :]
                self._payload(chunk)
                continue
            header = self.buffer + bytes(view[:14])
            size = self._header(header)
            if size is None:  # the header itself is split across reads
                self.buffer, view = header, view[len(view) :]
                continue
            view = view[size - len(self.buffer) :]
            self.buffer = b""
            if not self.remaining:
                self._complete()

    def _header(self, header: bytes) -> int | None:
        """Parse a frame header; its size, or None when it is not all there yet."""
        if len(header) < 2:
            return None
        length, size = header[1] & 0x7F, 2
        if length == 126:
            size = 4
        elif length == 127:
            size = 10
        if len(header) < size:
            return None
        if header[1] & 0x80:
            self._fail(ConnectionError("a server frame must not be masked (RFC 6455 5.1)"))
        if size > 2:
            length = int.from_bytes(header[2:size], "big")
        self.opcode, self.remaining = header[0] & 0x0F, length
        self.head = self.tail = b""
        return size

    def _payload(self, chunk: memoryview) -> None:
        if len(self.head) < len(self.HEAD):
            self.head += bytes(chunk[: len(self.HEAD) - len(self.head)])
        keep = len(self.marker)
        self.tail = (self.tail + bytes(chunk[-keep:]))[-keep:] if keep else b""
        self.remaining -= len(chunk)
        if not self.remaining:
            self._complete()

    def _complete(self) -> None:
        waiter = self.waiter
        if (
            waiter is not None
            and self.opcode == 0x1
            and self.head == self.HEAD
            and self.tail == self.marker
        ):
            self.waiter = None
            if not waiter.done():
                waiter.set_result(time.perf_counter())

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError("server closed the socket"))

    def _fail(self, error: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)


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
    stream_readers: bool = False,
) -> list[float]:
    delays: list[float] = []
    url = f"/v1/orgs/{ids['org']}/flows/{ids['flow']}"
    readers = [] if stream_readers else _frame_readers(sockets)
    freeze_heap()
    for i in range(changes):
        version = first_version + i
        waiters: list[Any]
        if stream_readers:
            waiters = [asyncio.create_task(_wait_version(ws, version)) for ws in sockets]
        else:
            waiters = [reader.expect(version) for reader in readers]
        t0 = time.perf_counter()
        r = await client.patch(url, json={"ops": [{"op": "rename", "name": f"v{version}"}]})
        assert r.status_code == 200, r.text
        # A reader that never sees its value (a lost or malformed frame) fails the run.
        done = await asyncio.wait_for(asyncio.gather(*waiters), DELIVERY_TIMEOUT)
        delays += [(t - t0) * 1000 for t in done]
    return delays


def _frame_readers(sockets: list[BareSocket]) -> list[FrameReader]:
    """Hand each socket's transport to a :class:`FrameReader` (once; later calls reuse it).

    Called between frames (each socket has read its first value and nothing since), so no
    byte is left behind in the socket's stream reader.
    """
    loop = asyncio.get_running_loop()
    readers = []
    for ws in sockets:
        protocol = ws.writer.transport.get_protocol()
        if not isinstance(protocol, FrameReader):
            protocol = FrameReader(loop)
            ws.writer.transport.set_protocol(protocol)
        readers.append(protocol)
    return readers


async def measure(
    write_url: str,
    ws_url: str,
    ids: dict[str, str],
    subscribers: int,
    changes: int,
    stream_readers: bool = False,
) -> list[float]:
    sockets = await _connect_all(ws_url, ids, subscribers)
    headers = {"Authorization": f"Bearer {ids['token']}"}
    async with httpx.AsyncClient(base_url=write_url, headers=headers) as client:
        delays = await _changes(client, sockets, ids, 2, changes, stream_readers)
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
                    delays = await _changes(
                        client, sockets, ids, version, args.changes, args.stream_readers
                    )
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
            measure(
                server.base_url, ws_url, ids, args.subscribers, args.changes, args.stream_readers
            )
        )
    print("| case | deliveries | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|")
    reader = ", stream readers" if args.stream_readers else ""
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
    f.add_argument(
        "--stream-readers", action="store_true", help="a task and a StreamReader per socket"
    )
    i = sub.add_parser("idle")
    i.add_argument("--sockets", type=int, default=10000)
    v = sub.add_parser("compare", help="this tree against --before, alternating runs")
    v.add_argument("--before", default="main")
    v.add_argument("--subscribers", type=int, default=1000)
    v.add_argument("--changes", type=int, default=20)
    v.add_argument("--repeat", type=int, default=5)
    v.add_argument(
        "--stream-readers", action="store_true", help="a task and a StreamReader per socket"
    )
    c = sub.add_parser("cross")
    c.add_argument("--subscribers", type=int, default=1)
    c.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    print("command: python bench/sync_fanout.py " + " ".join(sys.argv[1:]))
    {"fanout": fanout, "idle": idle, "cross": cross, "compare": compare}[args.case](args)


if __name__ == "__main__":
    main()
