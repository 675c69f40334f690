"""A real ``minibase serve`` process for the SDK's tests (SQLite, and PostgreSQL when
reachable), and a transport that records what the SDK sent."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from minibase.client.calls import ENDPOINTS
from tests.process import ServerProcess
from tests.services import (
    PostgresTemplate,
    pg_admin,
    pg_url,
    postgres_available,
    skip_or_fail,
)

FAST = {
    "MINIBASE_RATE_LIMIT_PER_SECOND": "100000",
    "MINIBASE_RUN_IN_SERVER": "always",
    "MINIBASE_RUN_POLL_SECONDS": "0.05",
    "MINIBASE_COLLAB_VERSION_SECONDS": "0.2",
}


def start_server(data_dir: Path, env: dict[str, str], port: int | None = None) -> ServerProcess:
    server = ServerProcess(data_dir, env={**FAST, **env}, port=port)
    server.wait_ready(60)
    return server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server for the module: on SQLite, and on an empty PostgreSQL database it migrates."""
    env: dict[str, str] = {}
    name = None
    if request.param == "postgres":
        if not postgres_available():
            skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
        name = f"mbt_sdk_{secrets.token_hex(6)}"
        pg_admin(f'CREATE DATABASE "{name}"')
        env["MINIBASE_DATABASE_URL"] = pg_url(name)
    try:
        process = start_server(tmp_path_factory.mktemp("sdk") / "data", env)
        try:
            yield process
        finally:
            process.stop()
    finally:
        if name is not None:
            PostgresTemplate.drop(name)


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$")


PATTERNS = [(e, _pattern(e.template)) for e in ENDPOINTS if e.method != "WS"]


def endpoint_of(method: str, path: str) -> str | None:
    for endpoint, pattern in PATTERNS:
        if endpoint.method == method and pattern.match(path):
            return f"{endpoint.method} {endpoint.template}"
    return None


class Recorder:
    """Every request the SDK sent, by endpoint template."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    @property
    def endpoints(self) -> set[str]:
        found = {endpoint_of(r.method, r.url.path) for r in self.requests}
        return {e for e in found if e is not None}


class RecordingTransport(httpx.HTTPTransport):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.recorder.requests.append(request)
        return super().handle_request(request)


class AsyncRecordingTransport(httpx.AsyncHTTPTransport):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.recorder.requests.append(request)
        return await super().handle_async_request(request)
