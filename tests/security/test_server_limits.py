"""Issue 12, item 7: header and body read timeouts, a connection cap, keep-alive, on a real
``minibase serve`` (both databases); the server answers ``/healthz`` after each attack."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from minibase.config import Settings
from tests.process import ServerProcess

pytestmark = pytest.mark.slow

CAP = 20


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {
        "MINIBASE_HEADER_TIMEOUT_SECONDS": "1",
        "MINIBASE_BODY_TIMEOUT_SECONDS": "1",
        "MINIBASE_MAX_CONNECTIONS": str(CAP),
        "MINIBASE_KEEPALIVE_SECONDS": "1",
    }
    if settings.is_postgres:
        env["MINIBASE_DATABASE_URL"] = settings.database_url
    process = ServerProcess(settings.data_dir, env=env)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return sock


def _read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started = time.monotonic()
    sock.settimeout(within)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data, time.monotonic() - started


def _error(response: bytes) -> tuple[int, str]:
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower()
    return status, json.loads(body)["error"]["code"]


def test_slow_headers_and_bodies_are_cut_off(server: ServerProcess) -> None:
    # Headers that never end.
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        data, took = _read_until_closed(sock, 5)
    assert _error(data) == (408, "request_timeout") and took < 4
    # A connection that sends nothing at all.
    with _connect(server) as sock:
        data, took = _read_until_closed(sock, 5)
    assert _error(data) == (408, "request_timeout") and took < 4
    # A Content-Length larger than the body, on a route that reads it.
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        data, took = _read_until_closed(sock, 5)
    assert _error(data) == (408, "request_timeout") and took < 4
    # ... and on a route that answers without reading it: the answer, then the close.
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        data, took = _read_until_closed(sock, 5)
    assert data.startswith(b"HTTP/1.1 200") and took < 4
    # A body dripped one byte at a time is cut off by the total, not the gap.
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        started = time.monotonic()
        try:
            while time.monotonic() - started < 5:
                sock.sendall(b" ")
                time.sleep(0.2)
        except OSError:
            pass
        took = time.monotonic() - started
    assert took < 4
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200


def test_connection_cap_and_keep_alive(server: ServerProcess) -> None:
    held = [_connect(server) for _ in range(CAP)]
    try:
        time.sleep(0.2)
        with _connect(server) as extra:
            data, took = _read_until_closed(extra, 5)
        assert _error(data) == (503, "unavailable") and took < 1
    finally:
        for sock in held:
            sock.close()
    # Once they are gone (closed, or cut off by the header timeout), the server answers.
    deadline = time.monotonic() + 5
    while httpx.get(f"{server.base_url}/healthz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # An idle kept-alive connection is closed after MINIBASE_KEEPALIVE_SECONDS.
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data, took = _read_until_closed(sock, 5)
    assert data.startswith(b"HTTP/1.1 200") and 0.5 < took < 4


def test_malformed_http_is_answered_in_the_error_shape(server: ServerProcess) -> None:
    for garbage in (
        b"NOT-A-METHOD / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\n\r\n",
    ):
        with _connect(server) as sock:
            sock.sendall(garbage)
            data, _ = _read_until_closed(sock, 5)
        assert _error(data) == (400, "bad_request"), garbage
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200


def test_the_issues_attack_scaled_down(server: ServerProcess) -> None:
    """Twice the cap of connections, each sending ``Content-Length: 1000`` and one byte:
    the first CAP are cut off with 408 by the body timeout, the others get 503 at once, and
    ``/healthz`` answers as soon as they are gone."""
    request = (
        b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    socks = []
    try:
        for _ in range(CAP):
            sock = _connect(server)
            sock.sendall(request)
            socks.append(sock)
        time.sleep(0.2)
        # Past the cap the answer comes before the request is read: read it first (the
        # request bytes would then only meet a closed socket, and reset the connection).
        refused = []
        for _ in range(CAP):
            with _connect(server) as sock:
                refused.append(_read_until_closed(sock, 5))
        answers = [_read_until_closed(sock, 5) for sock in socks] + refused
    finally:
        for sock in socks:
            sock.close()
    statuses = sorted(_error(data) for data, _ in answers)
    assert statuses == [(408, "request_timeout")] * CAP + [(503, "unavailable")] * CAP
    assert all(took < 4 for _, took in answers)
    deadline = time.monotonic() + 5
    while httpx.get(f"{server.base_url}/healthz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_production_defaults() -> None:
    defaults = Settings()
    assert defaults.header_timeout_seconds == 10
    assert defaults.body_timeout_seconds == 30
    assert defaults.max_connections == 1000
    assert defaults.keepalive_seconds == 5
    assert defaults.max_body_bytes == 5 * 1024 * 1024
