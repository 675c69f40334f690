"""Issue 12, item 8: the edges of HTTP answer in the error shape (both databases)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from minibase.config import Settings
from tests.flows_helpers import new_org
from tests.security.test_input import assert_error


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_body_bytes": 4096})


async def test_http_edges_answer_in_the_error_shape(
    client: httpx.AsyncClient, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    org = await new_org(client)
    h = org.admin.headers

    # A trailing slash is a 404, never a redirect to whatever Host the request named.
    for path in ("/v1/orgs/", f"/v1/orgs/{org.id}/flows/", "/healthz/"):
        response = await client.get(path, headers={**h, "host": "evil.example"})
        assert_error(response, 404, "not_found")
        assert "location" not in response.headers

    # Chunked bodies over the limit: 413, on pydantic routes and raw JSON routes alike.
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    for url in ("/v1/orgs", org.flows_url):
        response = await client.post(
            url, content=chunks(), headers={**h, "content-type": "application/json"}
        )
        assert_error(response, 413, "payload_too_large")

    # A 500 has the error shape and a request id, and its access-log line says 500.
    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/test-boom", boom)
    with caplog.at_level(logging.INFO):
        response = await client.get("/test-boom")
    assert_error(response, 500, "internal_error")
    assert response.headers["x-request-id"].startswith("req_")
    access = [r for r in caplog.records if r.name == "minibase.access" and r.path == "/test-boom"]
    assert [r.status for r in access] == [500]  # type: ignore[attr-defined]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].request_id == response.headers["x-request-id"]  # type: ignore[attr-defined]


async def test_client_leaving_mid_body_is_not_an_error(
    client: httpx.AsyncClient, live_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    org = await new_org(client)
    host, port = live_url.split(":")
    with caplog.at_level(logging.INFO):
        _reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            f"POST {org.flows_url} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {org.admin.token}\r\nContent-Length: 1000\r\n\r\n"
            '{"name": '.encode()
        )
        await writer.drain()
        await asyncio.sleep(0.1)  # the server is now waiting for the rest of the body
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(5):
            while not any(  # noqa: ASYNC110 - caplog has no event to wait on
                r.name == "minibase.access"
                and getattr(r, "path", "") == org.flows_url
                and r.status == 499  # type: ignore[attr-defined]
                for r in caplog.records
            ):
                await asyncio.sleep(0.02)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert (await client.get("/healthz")).status_code == 200
