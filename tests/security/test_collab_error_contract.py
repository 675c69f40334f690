"""Issue 12, item 8 (sockets and server errors): the error contract on every door.

- a binary frame on ``/v1/sync`` closes that socket with 1003 (unsupported data), as a
  text frame does on ``/v1/collab``; the server stays up;
- a client that disconnects mid-body is one access line (``"disconnected": true``), with
  no ERROR line and no traceback; with an ``Idempotency-Key`` nothing is claimed, so the
  retry runs;
- an unhandled exception answers the contract's JSON 500 with ``X-Request-Id``, and the
  access line logs status 500 (not 0).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
import websockets
from fastapi import FastAPI

from tests.flows_helpers import new_org, node
from tests.test_http_basics import assert_error

TIMEOUT = 5


class Records(logging.Handler):
    """Every log record, and a way to wait for one."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._grew = asyncio.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._grew:
            self._grew.notify_all()

    async def wait_for(self, predicate: Callable[[logging.LogRecord], bool]) -> logging.LogRecord:
        async def waiter() -> logging.LogRecord:
            async with self._grew:
                await self._grew.wait_for(lambda: any(map(predicate, self.records)))
            return next(r for r in self.records if predicate(r))

        return await asyncio.wait_for(waiter(), TIMEOUT)


@contextmanager
def recorded() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def has_traceback(record: logging.LogRecord) -> bool:
    # The redaction filter may turn exc_info into (redacted) exc_text.
    return bool(record.exc_info or record.exc_text)


def access_line(path: str) -> Callable[[logging.LogRecord], bool]:
    return lambda r: r.name == "minibase.access" and getattr(r, "path", None) == path


async def test_binary_frame_on_sync_closes_with_1003(
    client: httpx.AsyncClient, live_url: str
) -> None:
    org = await new_org(client)
    url = f"ws://{live_url}/v1/sync?token={org.admin.token}"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)) == {"type": "pong"}
        await ws.send(b"\x00\x01binary")
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        assert ws.close_code == 1003
    # Only that socket: another one works, and so does the server.
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)) == {"type": "pong"}
    assert (await client.get("/healthz")).status_code == 200


async def test_text_frame_on_collab_closes_with_1003(
    client: httpx.AsyncClient, live_url: str
) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    url = f"ws://{live_url}/v1/collab/{org.id}/{flow['id']}?token={org.admin.token}"
    async with websockets.connect(url) as ws:
        await ws.send("text")
        while True:
            try:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            except websockets.ConnectionClosed:
                break
        assert ws.close_code == 1003
    assert (await client.get("/healthz")).status_code == 200


async def _send_partial(live_url: str, request_head: str, partial: bytes) -> None:
    host, port = live_url.split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request_head.encode("latin-1") + partial)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


@pytest.mark.parametrize("route", ["flow", "signup"])
async def test_client_disconnecting_mid_body_is_no_error(
    client: httpx.AsyncClient, live_url: str, route: str
) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    if route == "flow":  # a route that reads its raw body
        path = f"{org.flows_url}/{flow['id']}"
        head = f"PUT {path} HTTP/1.1\r\nAuthorization: Bearer {org.admin.token}\r\n"
    else:  # a route with a pydantic body
        path = "/v1/auth/signup"
        head = f"POST {path} HTTP/1.1\r\n"
    head += (
        f"Host: {live_url}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
        "Idempotency-Key: half-a-body\r\n\r\n"
    )
    with recorded() as logs:
        await _send_partial(live_url, head, b'{"name": "half')
        line = await logs.wait_for(access_line(path))
        assert getattr(line, "disconnected", False) or getattr(line, "status", 0) == 400
        assert [r for r in logs.records if r.levelno >= logging.ERROR] == []
        assert [r for r in logs.records if has_traceback(r)] == []
    if route == "flow":
        # Nothing was claimed for the key: the whole request, retried, runs.
        whole = {"name": "whole", "nodes": [node("a")], "edges": [], "baseVersion": 1}
        retry = await client.put(
            path, json=whole, headers={**org.admin.headers, "Idempotency-Key": "half-a-body"}
        )
        assert retry.status_code == 200, retry.text
        assert "idempotent-replayed" not in retry.headers
    assert (await client.get("/healthz")).status_code == 200


async def test_unhandled_exception_is_the_contracts_500(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/test-boom", boom, methods=["GET"])
    with recorded() as logs:
        response = await client.get("/test-boom", headers={"X-Request-Id": "req-boom-1"})
        assert_error(response, 500, "internal_error")
        assert response.headers["x-request-id"] == "req-boom-1"
        assert response.headers["x-content-type-options"] == "nosniff"
        line = await logs.wait_for(access_line("/test-boom"))
        assert line.status == 500  # type: ignore[attr-defined]
        errors = [r for r in logs.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and has_traceback(errors[0])
        assert getattr(errors[0], "request_id", None) == "req-boom-1"
    assert (await client.get("/healthz")).status_code == 200


async def test_a_room_that_fails_to_open_closes_with_1011(
    app: FastAPI, client: httpx.AsyncClient, live_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    manager = app.state.ctx.collab

    async def failing_join(*args: object) -> None:
        raise RuntimeError("the room's storage failed")

    # Stands for any failure the client cannot help (a database error, data that does
    # not decrypt): the socket is closed, not left waiting; the server goes on.
    monkeypatch.setattr(manager, "join", failing_join)
    url = f"ws://{live_url}/v1/collab/{org.id}/{flow['id']}?token={org.admin.token}"
    with recorded() as records:
        async with websockets.connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert ws.close_code == 1011
        logged = await records.wait_for(lambda r: r.getMessage() == "collab room did not open")
        assert has_traceback(logged)
    assert (await client.get("/healthz")).status_code == 200
