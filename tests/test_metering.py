"""Metering against the hand-computed fixture, placed in January 2026 (tests/insight_fixture.py).

Prices (free plan, from MINIBASE_PRICES): computeMs 0.001, run 0.5, storageByteDay 0.01,
seat 3. The ten runs start 2026-01-10 00:00 UTC, one a minute.

* computeMs = (100 + ... + 1000) + 10 * 4000 + 10 * 10 = 5500 + 40000 + 100 = 45600
* runs = 10
* storage: 30 outputs of 7 bytes each (``{"v":i}``); output set i exists from minute i to
  the month's end, 22 days after the first: 21 * sum(22 - i * 60000 / DAY) byte-days
  = 21 * (220 - 0.03125) = 4619.34375; the flow and its version were created later.
* seats: nobody was a member by the end of January (they joined this month).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from minibase.app import create_app
from minibase.config import Settings
from minibase.errors import StartupError
from tests.flows_helpers import new_org, node
from tests.insight_fixture import insert_runs
from tests.test_http_basics import assert_error
from tests.together_helpers import add_member

PRICES = '{"free": {"computeMs": 0.001, "run": 0.5, "storageByteDay": 0.01, "seat": 3}}'
JAN_10 = int(datetime(2026, 1, 10, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
async def priced(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(
        settings.model_copy(update={"prices": PRICES, "instance_admins": "boss@example.com"}),
        run_migrations=False,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client


async def test_month_figures_and_costs(priced: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = priced
    org = await new_org(client)
    flow = await org.create_flow(name="ETL", nodes=[node("a"), node("b"), node("c")])
    await insert_runs(app.state.ctx.store, org.id, flow["id"], org.admin.id, JAN_10)
    url = f"/v1/orgs/{org.id}/billing/usage"
    response = await client.get(url, params={"month": "2026-01"}, headers=org.admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["month"], body["plan"], body["currency"]) == ("2026-01", "free", "USD")
    assert body["from"] == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
    assert body["to"] == int(datetime(2026, 2, 1, tzinfo=UTC).timestamp() * 1000)
    assert (body["computeMs"], body["runs"], body["seats"]) == (45600.0, 10, 0)
    assert body["storageByteDays"] == pytest.approx(4619.34375, abs=1e-3)
    items = body["items"]
    assert items["computeMs"] == {"quantity": 45600.0, "unitPrice": 0.001, "cost": 45.6}
    assert items["run"] == {"quantity": 10, "unitPrice": 0.5, "cost": 5.0}
    assert items["storageByteDay"]["cost"] == pytest.approx(46.1934375, abs=1e-5)
    assert items["seat"]["cost"] == 0
    assert body["total"] == pytest.approx(96.7934375, abs=1e-5)
    (per_flow,) = body["byFlow"]
    assert (per_flow["flowId"], per_flow["name"], per_flow["runs"]) == (flow["id"], "ETL", 10)
    assert per_flow["total"] == pytest.approx(96.7934375, abs=1e-5)
    (per_member,) = body["byMember"]
    assert (per_member["userId"], per_member["email"], per_member["seat"]) == (
        org.admin.id,
        org.admin.email,
        False,
    )
    assert (per_member["computeMs"], per_member["runs"], per_member["total"]) == (45600.0, 10, 50.6)

    # This month: the members are seats; January's runs are not in it.
    viewer = await add_member(client, org.admin, org.id, "viewer")
    now = datetime.now(UTC)
    current = (await client.get(url, headers=org.admin.headers)).json()
    assert current["month"] == f"{now.year:04d}-{now.month:02d}"
    assert (current["runs"], current["seats"]) == (0, 2)
    assert current["items"]["seat"]["cost"] == 6.0
    assert current["storageByteDays"] > 0

    # Admins only; bad months.
    assert_error(await client.get(url, headers=viewer.headers), 403, "forbidden")
    for month in ("2026-13", "26-01", "2026-1", "x", "1969-12"):
        assert_error(
            await client.get(url, params={"month": month}, headers=org.admin.headers),
            422,
            "validation_error",
        )


async def test_instance_admin_view(priced: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = priced
    org = await new_org(client)
    flow = await org.create_flow(nodes=[node("a"), node("b"), node("c")])
    await insert_runs(app.state.ctx.store, org.id, flow["id"], org.admin.id, JAN_10)
    other = await new_org(client)
    assert_error(
        await client.get("/v1/admin/billing/usage", headers=org.admin.headers), 404, "not_found"
    )
    from tests.helpers import signup

    boss = await signup(client, "boss@example.com")
    response = await client.get(
        "/v1/admin/billing/usage", params={"month": "2026-01"}, headers=boss.headers
    )
    assert response.status_code == 200, response.text
    rows = {r["organizationId"]: r for r in response.json()["items"]}
    assert rows[org.id]["total"] == pytest.approx(96.7934375, abs=1e-5)
    assert rows[other.id]["total"] == 0 and rows[other.id]["runs"] == 0
    assert response.json()["total"] == pytest.approx(96.7934375, abs=1e-5)


def test_bad_prices_stop_the_start(settings: Settings) -> None:
    for bad in ('{"gold": {}}', '{"pro": {"beer": 1}}', '{"pro": {"run": -1}}'):
        with pytest.raises(StartupError):
            create_app(settings.model_copy(update={"prices": bad}), run_migrations=False)
