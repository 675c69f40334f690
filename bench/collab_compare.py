"""Yjs update throughput, side by side: Minibase vs Hocuspocus vs y-websocket vs pycrdt-websocket.

Reproduce (from the repository root; needs node/npm for Hocuspocus and the y-websocket
server, PyPI for pycrdt-websocket, all installed here for the benchmark only):

    PYTHONPATH=src python bench/collab_compare.py

In ONE invocation, one server after the other gets the same client load from one
load-generator process (this one, on uvloop), all on 127.0.0.1:

- ``--writers`` (50) writer sockets, each editing its own node of one 100-node flow (a
  node drag: ``nodes[nX].position = {x, y, m}``, a pycrdt update of ~60 bytes, ``m`` a
  unique marker string), sending it, and waiting until its own update comes back in a
  broadcast frame before the next edit;
- ``--readers`` (50) reader sockets that only drain what the server broadcasts.

``--fanout`` (with ``--writers 1``) makes the readers watch for each edit's marker too:
one edit at a time reaches every reader, and the table gives the delivery latency (edit
sent -> each reader has it) and the last reader's, as the issue's "one edit reaches all
500 editors" asks, twice: by this process's clock when it has read the bytes, and by the
kernel's stamp of when they were in the reader's socket (``SO_TIMESTAMPNS``). One Python
process reads the 500 sockets one after the other, so the first figure includes its own
backlog (500 editors would each read their own socket); the second is the server's
delivery alone.

Measured over ``--seconds`` after ``--warmup``: accepted updates/s (own broadcasts
received by the writers per second), p50/p99 of edit → own broadcast, and the CPU used by
the server process and by this load generator over the window. The server's CPU is also
given per accepted update and per delivery: per update sent to one socket (accepted
updates times sockets, as every server here sends every update to every socket of the
document, its author's included).

Servers:

- Minibase: ``minibase serve`` (bench/_server.py, SQLite in a temp dir, real auth);
  every update is appended to the SQLite log before it is broadcast.
- Hocuspocus: bench/hocuspocus/server.mjs, ``@hocuspocus/server`` pinned by
  bench/hocuspocus/package-lock.json and installed with ``npm ci`` into
  bench/hocuspocus/node_modules (gitignored); in memory, no persistence extension.
- y-websocket: bench/y-websocket/server.mjs, the reference server of the Yjs project:
  ``y-websocket`` 2.1.0's server utilities (``y-websocket/bin/utils``; 3.x moved them to
  ``@y/websocket-server``) on ``ws`` with ``perMessageDeflate: false``, pinned by
  bench/y-websocket/package-lock.json and installed with ``npm ci`` into
  bench/y-websocket/node_modules (gitignored, optional dependencies such as y-leveldb
  omitted); in memory, no persistence.
- pycrdt-websocket: bench/pycrdt_ws_server.py in a throwaway virtualenv under /tmp
  (``pip install pycrdt-websocket``), its ASGI server on uvicorn with
  ``ws_per_message_deflate=False`` and uvloop (as ``minibase serve``); in memory (no YStore).

The rounds (``--repeat``) run every server once each, one after the other. "vs
Hocuspocus" compares the medians over all rounds; "per round" is the median (range) of
each round's own ratio, a run against the Hocuspocus run next to it in time: the machine
drifts up to 2x within minutes, and the two runs of one round share its speed.

All of them start from the same document: Minibase's state of the seeded flow (its sync
step 2) is handed to the others as their initial state.

Wire differences the load generator handles: y-websocket and pycrdt-websocket speak the
plain y-websocket protocol, as Minibase does (room in the URL path, no auth message, no
document-name prefix); Hocuspocus prefixes every message with the document name
(``varstring``), wants an auth message (type 2, token) before anything else, and
acknowledges every update to its sender with a SyncStatus message (type 8). The
y-websocket server pings every socket every 30 s and closes one that has not answered by
the next ping; these sockets do not answer, so keep ``--warmup`` + ``--seconds`` (plus
the time to connect) under a minute.
Sockets are bare (asyncio transports, no WebSocket library, no compression); after the
handshake the writers only scan the byte stream for their marker, the readers only count
bytes, so the load generator stays light.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(BENCH)]

from _bare_ws import BareSocket, freeze_heap  # noqa: E402
from _yjs_edits import EditUpdates  # noqa: E402

HOCUSPOCUS_DIR = BENCH / "hocuspocus"
Y_WEBSOCKET_DIR = BENCH / "y-websocket"
PYCRDT_WS_VENV = Path(tempfile.gettempdir()) / "minibase-bench-pycrdt-websocket"
PIP_REQS = ["pycrdt-websocket==0.16.5", "uvicorn[standard]==0.54.0"]
HOCUSPOCUS_DOC = "bench"
SERVERS = ["minibase", "hocuspocus", "y-websocket", "pycrdt-websocket"]
START_TIMEOUT = 60.0
EDIT_TIMEOUT = 10.0


# --- wire helpers ---------------------------------------------------------------------


def varuint(num: int) -> bytes:
    out = bytearray()
    while num > 0x7F:
        out.append(0x80 | (num & 0x7F))
        num >>= 7
    out.append(num)
    return bytes(out)


def varstring(text: str) -> bytes:
    data = text.encode()
    return varuint(len(data)) + data


def read_varuint(data: bytes, pos: int) -> tuple[int, int]:
    num = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        num |= (byte & 0x7F) << shift
        if byte < 0x80:
            return num, pos
        shift += 7


def sync_message(step: int, payload: bytes) -> bytes:
    return b"\x00" + varuint(step) + varuint(len(payload)) + payload


def client_frame(payload: bytes) -> bytes:
    """One masked binary WebSocket frame (client → server)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x82, 0x80 | n))
    elif n < 65536:
        header = bytes((0x82, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x82, 0x80 | 127)) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    masked = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big") if n else b""
    return header + mask + masked


@dataclass
class Target:
    """One server under test and how to speak to it."""

    name: str
    port: int
    path: str
    pid: int
    prefix: bytes = b""  # Hocuspocus: varstring(document name) before every message
    hello: list[bytes] = field(default_factory=list)  # sent before sync step 1
    note: str = ""
    writer_paths: list[str] = field(default_factory=list)  # --authors: writer i's path

    def writer_path(self, i: int) -> str:
        return self.writer_paths[i % len(self.writer_paths)] if self.writer_paths else self.path

    def message(self, body: bytes) -> bytes:
        return client_frame(self.prefix + body)


async def handshake(target: Target, path: str | None = None) -> tuple[BareSocket, bytes]:
    """Connect, say hello, send sync step 1; return the socket and the server's step 2."""
    sock = await BareSocket.connect("127.0.0.1", target.port, path or target.path)
    for body in target.hello:
        sock.writer.write(target.message(body))
    sock.writer.write(target.message(sync_message(0, b"\x00")))
    while True:
        frame = await sock.recv()
        if target.prefix:
            if not frame.startswith(target.prefix):
                continue
            frame = frame[len(target.prefix) :]
        if frame[:1] == b"\x02" and frame[1:2] == b"\x01":
            raise ConnectionError(f"{target.name}: permission denied")
        if frame[:2] == b"\x00\x01":
            length, pos = read_varuint(frame, 2)
            return sock, frame[pos : pos + length]


# --- load generator -------------------------------------------------------------------


class Sink(asyncio.Protocol):
    """A reader after its handshake: counts the bytes the server sends."""

    def __init__(self) -> None:
        self.received = 0
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.received += len(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


class MarkerScan:
    """Watches a socket's byte stream for the marker of the edit expected next.

    Server frames are unmasked and uncompressed, so the marker string (stored verbatim
    in the Yjs update's content) can be found in the raw bytes without parsing frames;
    the tail of each chunk is kept so a marker split across reads is still found.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.marker = b""
        self.tail = b""
        self.waiter: asyncio.Future[Any] | None = None
        self.received = 0

    def expect(self, marker: bytes) -> asyncio.Future[Any]:
        self.marker = marker
        self.tail = b""
        self.waiter = self.loop.create_future()
        return self.waiter

    def found(self, data: bytes) -> asyncio.Future[Any] | None:
        """Count ``data``; the waiter to resolve if the marker is now in the stream."""
        self.received += len(data)
        if self.waiter is None:
            return None
        buffer = self.tail + data if self.tail else data
        if self.marker not in buffer:
            self.tail = buffer[-(len(self.marker) - 1) :]
            return None
        waiter, self.waiter = self.waiter, None
        return None if waiter.done() else waiter

    def lost(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)


class Watch(MarkerScan, asyncio.Protocol):
    """A writer after its handshake: resolves with the time its marker arrived."""

    def data_received(self, data: bytes) -> None:
        if (waiter := self.found(data)) is not None:
            waiter.set_result(time.perf_counter())

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost(ConnectionError("server closed the socket"))


SO_TIMESTAMPNS = 35
"""Linux (asm-generic/socket.h): stamp each received segment with the time, in ns, the
kernel queued it on the socket; the control message it comes in has the same number."""


class KernelStamped(MarkerScan):
    """A --fanout reader: when its marker arrived, by the load generator's clock and by
    the kernel's.

    The load generator is one Python process reading 500 sockets one after the other; the
    time it takes to get to the last of them is part of "when the reader has it" (about
    1.4 ms of a 3.5 ms p99 in one measurement). The kernel's stamp says when the bytes
    were in the reader's socket: the server's delivery, whatever the reader does next.
    The socket is read here (a duplicate of the transport's, with ``recvmsg``, after the
    transport stopped reading) because asyncio transports drop the control messages.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: BareSocket) -> None:
        super().__init__(loop)
        transport = sock.writer.transport
        transport.pause_reading()
        self.sock = socket.socket(fileno=os.dup(transport.get_extra_info("socket").fileno()))
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        loop.add_reader(self.sock.fileno(), self._ready)

    def _ready(self) -> None:
        try:
            data, ancillary, _flags, _address = self.sock.recvmsg(1 << 18, 64)
        except BlockingIOError:
            return
        except OSError as exc:
            self.close()
            self.lost(exc)
            return
        if not data:
            self.close()
            self.lost(ConnectionError("server closed the socket"))
            return
        if (waiter := self.found(data)) is None:
            return
        stamp = 0
        for level, kind, blob in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = struct.unpack("qq", blob[:16])
                stamp = seconds * 1_000_000_000 + nanoseconds
        waiter.set_result((time.perf_counter(), stamp))

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    from pycrdt import Doc, Map

    loop = asyncio.get_running_loop()
    sinks: list[Sink | KernelStamped] = []
    sockets: list[BareSocket] = []
    try:
        for _ in range(args.readers):
            sock, _state = await asyncio.wait_for(handshake(target), START_TIMEOUT)
            sockets.append(sock)
            if args.fanout:
                sinks.append(KernelStamped(loop, sock))
            else:
                sink = Sink()
                sock.writer.transport.set_protocol(sink)
                sinks.append(sink)
        watches = [s for s in sinks if isinstance(s, KernelStamped)]

        writers: list[tuple[BareSocket, Watch, Any, Any]] = []
        for i in range(args.writers):
            sock, state = await asyncio.wait_for(
                handshake(target, target.writer_path(i)), START_TIMEOUT
            )
            sockets.append(sock)
            doc: Doc[Any] = Doc()
            doc.apply_update(state)
            node = doc.get("nodes", type=Map)[f"n{i % 100}"]
            watch = Watch(loop)
            sock.writer.transport.set_protocol(watch)
            writers.append((sock, watch, EditUpdates(doc), node))

        freeze_heap()
        started = time.perf_counter()
        window_start = started + args.warmup
        window_end = window_start + args.seconds
        latencies: list[float] = []
        deliveries: list[float] = []
        """--fanout: edit sent -> each reader has it, ms."""
        stamped: list[float] = []
        """--fanout: edit sent -> the kernel queued it on each reader's socket, ms."""
        lasts: list[float] = []
        """--fanout: edit sent -> the last reader has it, ms."""
        accepted = 0
        errors: list[str] = []

        async def write(
            i: int, sock: BareSocket, watch: Watch, edits: EditUpdates, node: Any
        ) -> None:
            nonlocal accepted
            k = 0
            while time.perf_counter() < window_end:
                marker = f"<{i}:{k}>"
                node["position"] = {"x": k, "y": i, "m": marker}
                frame = target.message(sync_message(2, edits.take()))
                k += 1
                done = watch.expect(marker.encode())
                arrivals = [w.expect(marker.encode()) for w in watches]
                sent, sent_ns = time.perf_counter(), time.time_ns()
                sock.writer.transport.write(frame)
                try:
                    received = await asyncio.wait_for(done, EDIT_TIMEOUT)
                    heard = await asyncio.wait_for(asyncio.gather(*arrivals), EDIT_TIMEOUT)
                except (TimeoutError, ConnectionError) as exc:
                    errors.append(f"writer {i} edit {k}: {exc!r}")
                    return
                if window_start <= sent and received <= window_end:
                    latencies.append((received - sent) * 1000)
                    if heard:
                        deliveries.extend((t - sent) * 1000 for t, _ in heard)
                        stamped.extend((k - sent_ns) / 1e6 for _, k in heard if k)
                        lasts.append((max(t for t, _ in heard) - sent) * 1000)
                if window_start <= received <= window_end:
                    accepted += 1

        await asyncio.sleep(0)
        server_cpu = client_cpu = 0.0
        tasks = [asyncio.create_task(write(i, *w)) for i, w in enumerate(writers)]
        await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
        server_cpu, client_cpu = cpu_seconds(target.pid), time.process_time()
        reader_bytes = [s.received for s in sinks]
        await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
        server_cpu = cpu_seconds(target.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        reader_bytes = [s.received - b for s, b in zip(sinks, reader_bytes, strict=True)]
        await asyncio.wait_for(asyncio.gather(*tasks), EDIT_TIMEOUT + 5)
        return {
            "server": target.name,
            "note": target.note,
            "writers": args.writers,
            "readers": args.readers,
            "seconds": args.seconds,
            "updates_per_s": round(accepted / args.seconds, 1),
            "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
            "p99_ms": round(percentile(latencies, 99), 2) if latencies else None,
            "edits_measured": len(latencies),
            "server_cpu_pct": round(100 * server_cpu / args.seconds),
            "cpu_us_per_update": round(1e6 * server_cpu / accepted) if accepted else None,
            # Every socket gets every update, its author's included, on every server here.
            "cpu_us_per_delivery": (
                round(1e6 * server_cpu / (accepted * (args.writers + args.readers)), 2)
                if accepted
                else None
            ),
            "loadgen_cpu_pct": round(100 * client_cpu / args.seconds),
            "reader_kib_per_s_min": round(min(reader_bytes) / 1024 / args.seconds, 1),
            "reader_kib_per_s_max": round(max(reader_bytes) / 1024 / args.seconds, 1),
            "readers_lost": sum(s.lost for s in sinks if isinstance(s, Sink)),
            "delivery_p50_ms": round(statistics.median(deliveries), 2) if deliveries else None,
            "delivery_p99_ms": round(percentile(deliveries, 99), 2) if deliveries else None,
            "last_reader_p99_ms": round(percentile(lasts, 99), 2) if lasts else None,
            "kernel_p50_ms": round(statistics.median(stamped), 2) if stamped else None,
            "kernel_p99_ms": round(percentile(stamped, 99), 2) if stamped else None,
            "errors": errors[:5],
        }
    finally:
        for sink in sinks:
            if isinstance(sink, KernelStamped):
                sink.close()
        for sock in sockets:
            sock.writer.transport.close()
        await asyncio.sleep(0.2)


# --- servers --------------------------------------------------------------------------


@contextlib.contextmanager
def child(argv: list[str], cwd: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A server child process that prints ``listening PORT`` when ready; always stopped."""
    log = tempfile.NamedTemporaryFile(prefix=f"minibase-bench-{name}-", suffix=".log")  # noqa: SIM115
    process = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=log, start_new_session=True
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        line = b""
        while time.monotonic() < deadline and not line.startswith(b"listening"):
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
        if not line.startswith(b"listening"):
            log.seek(0)
            raise RuntimeError(f"{name} did not start: {log.read().decode(errors='replace')}")
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def npm_ready(folder: Path, packages: list[str], label: str) -> str:
    """``npm ci`` into ``folder``/node_modules unless the locked ``packages`` are there."""
    if not shutil.which("node") or not shutil.which("npm"):
        raise RuntimeError("node/npm not found")
    lock = json.loads((folder / "package-lock.json").read_text())
    wanted = {p: lock["packages"][f"node_modules/{p}"]["version"] for p in packages}
    for package, version in wanted.items():
        installed = folder / "node_modules" / package / "package.json"
        if not installed.exists() or json.loads(installed.read_text())["version"] != version:
            print(f"installing {label} for the benchmark (npm ci) ...", file=sys.stderr)
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=folder,
                stdout=sys.stderr,
                check=True,
                timeout=600,
            )
            break
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    return ", ".join([*(f"{p} {v}" for p, v in wanted.items()), f"Node {node.stdout.strip()}"])


def hocuspocus_ready() -> str:
    """``npm ci`` into bench/hocuspocus/node_modules unless the locked version is there."""
    return npm_ready(HOCUSPOCUS_DIR, ["@hocuspocus/server"], "Hocuspocus")


def y_websocket_ready() -> str:
    """``npm ci`` into bench/y-websocket/node_modules unless the locked versions are there."""
    return npm_ready(Y_WEBSOCKET_DIR, ["y-websocket", "ws", "yjs"], "the y-websocket server")


def pycrdt_ws_ready() -> tuple[Path, str]:
    """A throwaway virtualenv with pycrdt-websocket (never a Minibase dependency)."""
    python = PYCRDT_WS_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing pycrdt-websocket into {PYCRDT_WS_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PYCRDT_WS_VENV)], check=True)
    probe = "import importlib.metadata as m; print(m.version('pycrdt-websocket'))"
    if subprocess.run([python, "-c", probe], capture_output=True).returncode != 0:
        subprocess.run(
            [python, "-m", "pip", "install", "-qq", "--disable-pip-version-check", *PIP_REQS],
            check=True,
            timeout=600,
        )
    versions = subprocess.run(
        [
            python,
            "-c",
            "import importlib.metadata as m; "
            "print(', '.join(p + ' ' + m.version(p) for p in "
            "('pycrdt-websocket', 'pycrdt', 'uvicorn')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return python, versions.stdout.strip()


async def flow_state(port: int, path: str) -> bytes:
    target = Target("minibase", port, path, pid=0)
    sock, state = await handshake(target)
    sock.close()
    return state


@contextlib.contextmanager
def source_tree(revision: str) -> Iterator[Path]:
    """``revision`` of this repository exported to a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="minibase-before-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        yield Path(tmp)


def editor_keys(base_url: str, ids: dict[str, str], count: int) -> list[str]:
    """``count`` editor API keys of the seeded org: writers that are distinct authors."""
    import httpx

    headers = {"Authorization": f"Bearer {ids['token']}"}
    with httpx.Client(base_url=base_url, timeout=30, headers=headers) as client:
        return [
            client.post(
                f"/v1/orgs/{ids['org']}/api-keys", json={"name": f"writer {i}", "role": "editor"}
            ).json()["key"]
            for i in range(count)
        ]


def run(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str]]:
    """Every server up at once; ``--repeat`` rounds, each measuring them in turn."""
    from _server import running_server, seed_sync
    from tests.process import free_port

    skipped: list[str] = []
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="minibase-bench-compare-") as tmp, ExitStack() as stack:
        seed_file = Path(tmp) / "seed.bin"
        minibases = [("Minibase", None)]
        if args.before:
            minibases.insert(0, (f"Minibase {args.before}", args.before))
        for label, revision in minibases:
            env = {}
            if revision is not None:
                env["PYTHONPATH"] = str(stack.enter_context(source_tree(revision)) / "src")
            server = stack.enter_context(running_server("sqlite", env))
            ids = seed_sync(server.base_url)
            path = f"/v1/collab/{ids['org']}/{ids['flow']}?token={ids['token']}"
            if not seed_file.exists():
                seed_file.write_bytes(asyncio.run(flow_state(server.port, path)))
            if "minibase" in args.servers:
                note = "minibase serve, SQLite, every update stored before broadcast"
                keys = editor_keys(server.base_url, ids, args.authors) if args.authors > 1 else []
                if keys:
                    note += f", writers as {args.authors} API keys (authors)"
                writer_paths = [f"/v1/collab/{ids['org']}/{ids['flow']}?token={k}" for k in keys]
                targets.append(
                    Target(
                        label,
                        server.port,
                        path,
                        server.process.pid,
                        note=note,
                        writer_paths=writer_paths,
                    )
                )

        if "hocuspocus" in args.servers:
            try:
                versions = hocuspocus_ready()
                port = free_port()
                argv = ["node", "server.mjs", str(port), str(seed_file)]
                process = stack.enter_context(child(argv, HOCUSPOCUS_DIR, "hocuspocus"))
                targets.append(
                    Target(
                        "Hocuspocus",
                        port,
                        f"/{HOCUSPOCUS_DOC}",
                        process.pid,
                        prefix=varstring(HOCUSPOCUS_DOC),
                        hello=[b"\x02\x00" + varstring("bench")],  # auth: token
                        note=f"{versions}, in memory",
                    )
                )
            except (RuntimeError, OSError, TimeoutError, subprocess.SubprocessError) as exc:
                skipped.append(f"Hocuspocus skipped: {exc!r}")

        if "y-websocket" in args.servers:
            try:
                versions = y_websocket_ready()
                port = free_port()
                argv = ["node", "server.mjs", str(port), str(seed_file)]
                process = stack.enter_context(child(argv, Y_WEBSOCKET_DIR, "y-websocket"))
                targets.append(
                    Target(
                        "y-websocket",
                        port,
                        "/bench",  # the room; plain y-websocket protocol, as Minibase's
                        process.pid,
                        note=f"{versions}, ws without deflate, in memory",
                    )
                )
            except (RuntimeError, OSError, TimeoutError, subprocess.SubprocessError) as exc:
                skipped.append(f"y-websocket skipped: {exc!r}")

        if "pycrdt-websocket" in args.servers:
            try:
                python, versions = pycrdt_ws_ready()
                port = free_port()
                argv = [str(python), str(BENCH / "pycrdt_ws_server.py"), str(port), str(seed_file)]
                process = stack.enter_context(child(argv, ROOT, "pycrdt-websocket"))
                targets.append(
                    Target(
                        "pycrdt-websocket",
                        port,
                        "/bench",
                        process.pid,
                        note=f"{versions}, uvicorn without deflate, in memory",
                    )
                )
            except (RuntimeError, OSError, TimeoutError, subprocess.SubprocessError) as exc:
                skipped.append(f"pycrdt-websocket skipped: {exc!r}")

        results: list[dict[str, Any]] = []
        for _ in range(args.repeat):
            for target in targets:
                try:
                    results.append(run_load(target, args))
                except (RuntimeError, OSError, TimeoutError, EOFError) as exc:
                    skipped.append(f"{target.name} failed: {exc!r}")
    return results, skipped


def run_load(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    print(f"measuring {target.name} ...", file=sys.stderr)
    runner = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    result: dict[str, Any] = runner(measure(target, args))
    print(json.dumps(result), file=sys.stderr)
    return result


def paired(runs: list[dict[str, Any]], base: list[dict[str, Any]], key: str) -> str:
    """Median (range) of ``key`` over Hocuspocus's in the SAME round, run next to it: the
    machine drifts up to 2x within minutes, and a round's two runs share its speed."""
    if not base or len(runs) != len(base):
        return "n/a"
    ratios = sorted(r[key] / b[key] for r, b in zip(runs, base, strict=True) if r[key] and b[key])
    if not ratios:
        return "n/a"
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}"
    return f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f})"


def table(results: list[dict[str, Any]]) -> str:
    """One row per server: medians over its runs (ranges when it ran more than once)."""
    by_server: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_server.setdefault(r["server"], []).append(r)

    def med(runs: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(r[key] for r in runs if r[key] is not None))

    def span(runs: list[dict[str, Any]], key: str, fmt: str) -> str:
        values = sorted(r[key] for r in runs if r[key] is not None)
        if len(values) < 2:
            return ""
        return f" ({format(values[0], fmt)}-{format(values[-1], fmt)})"

    base = med(by_server["Hocuspocus"], "updates_per_s") if "Hocuspocus" in by_server else None
    lines = [
        "| server | runs | updates/s accepted | p50 edit→own broadcast | p99 | vs Hocuspocus "
        "| vs Hocuspocus, per round | server CPU | server CPU per update "
        "| per delivery | load-gen CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    if any(r["delivery_p99_ms"] is not None for r in results):
        return fanout_table(by_server, med, span)
    for name, runs in by_server.items():
        rate = med(runs, "updates_per_s")
        ratio = f"{rate / base:.2f}" if base else "n/a"
        lines.append(
            f"| {name} | {len(runs)} | {rate:,.0f}{span(runs, 'updates_per_s', ',.0f')} "
            f"| {med(runs, 'p50_ms'):.1f} ms | {med(runs, 'p99_ms'):.1f} ms"
            f"{span(runs, 'p99_ms', '.1f')} | {ratio} "
            f"| {paired(runs, by_server.get('Hocuspocus', []), 'updates_per_s')} "
            f"| {med(runs, 'server_cpu_pct'):.0f}% "
            f"| {med(runs, 'cpu_us_per_update'):.0f} µs "
            f"| {med(runs, 'cpu_us_per_delivery'):.2f} µs | {med(runs, 'loadgen_cpu_pct'):.0f}% |"
        )
    return "\n".join(lines)


def fanout_table(by_server: dict[str, list[dict[str, Any]]], med: Any, span: Any) -> str:
    """--fanout: one edit at a time; each reader's arrival by the load generator's clock
    (when it read the bytes) and by the kernel's (when they were in its socket)."""
    hocuspocus = by_server.get("Hocuspocus", [])
    base = med(hocuspocus, "delivery_p99_ms") if hocuspocus else None
    kernel_base = med(hocuspocus, "kernel_p99_ms") if hocuspocus else None
    lines = [
        "| server | runs | edits/s | delivery p50 | delivery p99 | p99 / Hocuspocus's "
        "| per round | in the socket (kernel): p50 | p99 | p99 / Hocuspocus's | per round "
        "| last reader p99 | server CPU | server CPU per edit | per delivery |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in by_server.items():
        p99 = med(runs, "delivery_p99_ms")
        kernel_p99 = med(runs, "kernel_p99_ms")
        ratio = f"{p99 / base:.2f}" if base else "n/a"
        kernel_ratio = f"{kernel_p99 / kernel_base:.2f}" if kernel_base else "n/a"
        lines.append(
            f"| {name} | {len(runs)} | {med(runs, 'updates_per_s'):,.0f} "
            f"| {med(runs, 'delivery_p50_ms'):.1f} ms "
            f"| {p99:.1f} ms{span(runs, 'delivery_p99_ms', '.1f')} | {ratio} "
            f"| {paired(runs, hocuspocus, 'delivery_p99_ms')} "
            f"| {med(runs, 'kernel_p50_ms'):.2f} ms "
            f"| {kernel_p99:.2f} ms{span(runs, 'kernel_p99_ms', '.2f')} | {kernel_ratio} "
            f"| {paired(runs, hocuspocus, 'kernel_p99_ms')} "
            f"| {med(runs, 'last_reader_p99_ms'):.1f} ms | {med(runs, 'server_cpu_pct'):.0f}% "
            f"| {med(runs, 'cpu_us_per_update'):.0f} µs "
            f"| {med(runs, 'cpu_us_per_delivery'):.2f} µs |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=1, help="rounds over all the servers")
    parser.add_argument(
        "--fanout",
        action="store_true",
        help="readers timestamp each edit too: delivery latency to every reader "
        "(one edit at a time, so use --writers 1)",
    )
    parser.add_argument(
        "--authors",
        type=int,
        default=1,
        help="Minibase writers edit as this many distinct authors (editor API keys, "
        "writer i as key i mod N); 1: all as the seeded user",
    )
    parser.add_argument(
        "--before", default="", help="also a Minibase of this revision (git archive), e.g. main"
    )
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help="comma-separated subset of minibase,hocuspocus,y-websocket,pycrdt-websocket",
    )
    args = parser.parse_args()
    args.servers = args.servers.split(",")
    load_before = os.getloadavg()[0]
    if not 1 <= args.writers <= 100:
        parser.error("--writers must be 1..100 (one node each)")
    results, skipped = run(args)
    command = (
        "PYTHONPATH=src python bench/collab_compare.py "
        f"--writers {args.writers} --readers {args.readers} "
        f"--seconds {args.seconds:g} --warmup {args.warmup:g} --repeat {args.repeat}"
    )
    if args.before:
        command += f" --before {args.before}"
    if args.fanout:
        command += " --fanout"
    if args.authors > 1:
        command += f" --authors {args.authors}"
    if args.servers != SERVERS:
        command += f" --servers {','.join(args.servers)}"
    print(table(results))
    print()
    for r in results[: len({r["server"] for r in results})]:
        extra = f"; errors: {r['errors']}" if r["errors"] else ""
        print(
            f"- {r['server']}: {r['note']}; {r['edits_measured']} edits measured; each reader "
            f"received {r['reader_kib_per_s_min']}-{r['reader_kib_per_s_max']} KiB/s"
            f"{extra}"
        )
    for line in skipped:
        print(f"- {line}")
    print(
        f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
        f"{os.cpu_count()} cores, 1-min load average before the run: {load_before:.1f}, "
        f"after: {os.getloadavg()[0]:.1f}"
    )
    print(f"reproduce: {command}")


if __name__ == "__main__":
    main()
