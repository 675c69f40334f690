"""One request id across HTTP, WebSocket and worker log lines.

The id the client sends as ``X-Request-Id`` (or the one the server makes up) is on every
log line written while its request or socket is served, whatever logger writes it, and
on the worker's lines about a run that request queued; nothing outside keeps it.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from minibase.config import Settings
from tests.engine.helpers import n
from tests.engine.runs_helpers import wait_for
from tests.flows_helpers import new_org
from tests.together_helpers import TIMEOUT


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"run_in_server": "always", "run_poll_seconds": 0.05})


def lines_of(caplog: pytest.LogCaptureFixture, request_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "request_id", None) == request_id]


async def test_http_lines_carry_the_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    org = await new_org(client)
    invited = await client.post(
        f"/v1/orgs/{org.id}/invitations",
        json={"email": "someone@example.com", "role": "viewer"},
        headers={**org.admin.headers, "X-Request-Id": "http-req-1"},
    )
    assert invited.status_code == 201, invited.text
    assert invited.headers["x-request-id"] == "http-req-1"
    names = {r.name for r in lines_of(caplog, "http-req-1")}
    # The delivery line (written by the sender, deep in the service) and the access line.
    assert {"minibase.delivery", "minibase.access"} <= names, names
    # Nothing outside the request keeps the id.
    logging.getLogger("minibase.test").info("after the request")
    assert not hasattr(caplog.records[-1], "request_id")
    # A request without the header gets an id of its own, on its lines too.
    got = await client.get(f"/v1/orgs/{org.id}", headers=org.admin.headers)
    made_up = got.headers["x-request-id"]
    assert made_up.startswith("req_") and lines_of(caplog, made_up)


async def test_websocket_lines_carry_the_request_id(
    client: httpx.AsyncClient, live_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    org = await new_org(client)
    flow = await org.create_flow()
    url = f"ws://{live_url}/v1/collab/{org.id}/{flow['id']}?token={org.admin.token}"
    async with websockets.connect(url, additional_headers={"X-Request-Id": "ws-req-1"}) as ws:
        await ws.send(b"\x00\x07\x01")  # a sync message with an unknown step
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert ws.close_code == 1002

    async def logged() -> list[logging.LogRecord]:
        while True:
            lines = lines_of(caplog, "ws-req-1")
            if {"minibase.access"} <= {r.name for r in lines}:
                return lines
            await asyncio.sleep(0.02)

    lines = await asyncio.wait_for(logged(), TIMEOUT)
    assert any(r.getMessage().startswith("collab protocol error") for r in lines), lines


async def test_worker_lines_carry_the_id_of_the_request_that_queued_the_run(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    org = await new_org(client)
    flow = await org.create_flow(nodes=[n("c", "constant", value={"x": 1})], edges=[])
    queued = await client.post(
        f"{org.flows_url}/{flow['id']}/runs",
        json={},
        headers={**org.admin.headers, "X-Request-Id": "run-req-1"},
    )
    assert queued.status_code == 202, queued.text
    run = await wait_for(org, queued.json()["id"])
    assert run["status"] == "succeeded"

    async def finished() -> list[logging.LogRecord]:
        while True:
            lines = [
                r
                for r in lines_of(caplog, "run-req-1")
                if r.name == "minibase.engine" and getattr(r, "run_id", None) == run["id"]
            ]
            if any(r.getMessage() == "run finished" for r in lines):
                return lines
            await asyncio.sleep(0.02)

    lines = await asyncio.wait_for(finished(), TIMEOUT)
    assert {r.getMessage() for r in lines} == {"run started", "run finished"}
    # The worker's lines about other runs do not inherit it.
    again = await client.post(
        f"{org.flows_url}/{flow['id']}/runs", json={}, headers=org.admin.headers
    )
    other = await wait_for(org, again.json()["id"])
    others = [r for r in caplog.records if getattr(r, "run_id", None) == other["id"]]
    assert others and all(
        getattr(r, "request_id", None) == again.headers["x-request-id"] for r in others
    )
