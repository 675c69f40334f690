"""``GET /metrics``: parsed by prometheus_client's parser; routes by template, latency
histograms, sockets and subscriptions, bus lag, runs; the token when one is set."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from minibase.app import create_app
from minibase.config import Settings
from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.store import run_queue
from tests.engine.helpers import n
from tests.flows_helpers import new_org
from tests.servers import serve_in_process
from tests.test_http_basics import assert_error
from tests.together_helpers import TIMEOUT


def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def value(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    matches = [
        v for got, v in samples.get(name, []) if all(got.get(k) == x for k, x in labels.items())
    ]
    assert len(matches) == 1, (name, labels, samples.get(name))
    return matches[0]


async def test_metrics_parse_and_count_by_template(
    client: httpx.AsyncClient, live_url: str
) -> None:
    org = await new_org(client)
    flow = await org.create_flow()
    for _ in range(3):
        got = await client.get(f"{org.flows_url}/{flow['id']}", headers=org.admin.headers)
        assert got.status_code == 200
    missing = await client.get(f"{org.flows_url}/flow_nope", headers=org.admin.headers)
    assert missing.status_code == 404
    await client.get("/no/such/path")
    async with websockets.connect(f"ws://{live_url}/v1/sync?token={org.admin.token}") as ws:
        await ws.send(
            json.dumps(
                {"type": "subscribe", "id": "f", "query": "flows.list", "args": {"orgId": org.id}}
            )
        )
        await asyncio.wait_for(ws.recv(), TIMEOUT)
        scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = parse(scraped.text)
    template = "/v1/orgs/{orgId}/flows/{flowId}"
    assert (
        value(samples, "minibase_http_requests_total", route=template, method="GET", status="200")
        == 3
    )
    assert value(samples, "minibase_http_requests_total", route=template, status="404") == 1
    assert value(samples, "minibase_http_requests_total", route="unmatched", status="404") == 1
    routes = [got["route"] for got, _ in samples["minibase_http_requests_total"]]
    assert not [route for route in routes if flow["id"] in route]
    count = value(samples, "minibase_http_request_duration_seconds_count", route=template)
    assert count == 4
    assert (
        value(samples, "minibase_http_request_duration_seconds_bucket", route=template, le="+Inf")
        == 4
    )
    assert value(samples, "minibase_http_request_duration_seconds_sum", route=template) > 0
    assert value(samples, "minibase_sync_sockets") == 1
    assert value(samples, "minibase_sync_subscriptions") == 1
    assert value(samples, "minibase_collab_rooms") == 0
    assert 0 <= value(samples, "minibase_bus_lag_seconds") < 1
    assert value(samples, "minibase_runs", state="queued") == 0
    assert value(samples, "minibase_runs", state="running") == 0
    assert value(samples, "minibase_uptime_seconds") >= 0


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(
        settings.model_copy(update={"metrics_token": SecretStr("s3cret-scrape")}),
        run_migrations=False,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


async def test_metrics_token(guarded: httpx.AsyncClient) -> None:
    assert_error(await guarded.get("/metrics"), 401, "unauthenticated")
    wrong = await guarded.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert_error(wrong, 401, "unauthenticated")
    right = await guarded.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert right.status_code == 200
    assert "minibase_http_requests_total" in right.text


async def test_metrics_runs_rooms_and_errors(settings: Settings) -> None:
    """Runs queued and running, collab rooms and sockets, and 5xx answers move their series."""
    app: FastAPI = create_app(settings.model_copy(update={"run_in_server": "never"}))
    app.add_api_route("/test-boom", _boom)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
            serve_in_process(app) as url,
        ):
            org = await new_org(client)
            flow = await org.create_flow(nodes=[n("c", "constant", value={"x": 1})], edges=[])
            for _ in range(2):
                started = await client.post(
                    f"{org.flows_url}/{flow['id']}/runs", json={}, headers=org.admin.headers
                )
                assert started.status_code == 202, started.text
            boom = await client.get("/test-boom")
            assert boom.status_code == 500
            ctx: AppContext = app.state.ctx
            async with ctx.store.global_(SYSTEM, write=True) as uow:
                assert await run_queue.claim(uow, "w-test", now=now_ms(), lease_ms=60_000)
            collab = f"ws://{url}/v1/collab/{org.id}/{flow['id']}?token={org.admin.token}"
            async with websockets.connect(collab) as ws:
                await asyncio.wait_for(ws.recv(), TIMEOUT)  # sync step 1: the room is loaded
                samples = parse((await client.get("/metrics")).text)
            assert value(samples, "minibase_runs", state="queued") == 1
            assert value(samples, "minibase_runs", state="running") == 1
            assert value(samples, "minibase_collab_rooms") == 1
            assert value(samples, "minibase_collab_sockets") == 1
            assert value(samples, "minibase_sync_sockets") == 0
            assert value(samples, "minibase_http_errors_total", route="/test-boom") == 1
            assert not [
                labels
                for labels, _ in samples.get("minibase_http_errors_total", [])
                if labels["route"] != "/test-boom"
            ]


async def _boom() -> None:
    raise RuntimeError("boom")
