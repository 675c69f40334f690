"""Analytics rollups (store/analytics_rollups.py): whole days read from the rollups give the
figures the raw rows give, whether the rollups were written by the engine as it ran, rebuilt
(the fixture), or backfilled by the migration; deleting raw rows leaves them alone."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from alembic import command
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from minibase.config import Settings
from minibase.domain.latency_histogram import BOUNDS, Histogram, bucket_of, nearest_rank
from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.store import analytics_rollups
from minibase.store.migrate import alembic_config
from minibase.store.tables import analytics_nodes, node_outputs, runs
from tests.engine.helpers import e, n
from tests.engine.runs_helpers import run_to_end
from tests.flows_helpers import Org, edge, new_org, node
from tests.insight_fixture import insert_runs

DAY = 86_400_000
HOUR = 3_600_000
BLOCK = analytics_rollups.BLOCK_DAYS * DAY


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"run_in_server": "always", "run_poll_seconds": 0.05, "run_lease_seconds": 3.0}
    )


async def _analytics(org: Org, start: int, end: int) -> dict[str, Any]:
    response = await org.client.get(
        f"/v1/orgs/{org.id}/analytics", params={"from": start, "to": end}, headers=org.admin.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _figures(body: dict[str, Any]) -> dict[str, Any]:
    """What runs and nodes decide (versions and the audit log are read raw either way)."""
    return {
        "nodeTypes": body["nodeTypes"],
        "slowestNodes": body["slowestNodes"],
        "flows": body["flows"],
        "runs": body["usage"]["runs"],
        "daily": [[d["day"], d["runs"], d["failures"]] for d in body["daily"] if d["runs"]],
        "suggestions": body["suggestions"],
    }


async def _raw_and_rolled(org: Org, first_day: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same runs (all on ``first_day`` and the next) read from the raw rows (a range
    with no whole day) and from the rollups (whole days, across 16-day blocks)."""
    raw = await _analytics(org, first_day + 1, first_day + 2 * DAY - 1)
    assert not analytics_rollups.split(first_day + 1, first_day + 2 * DAY - 1).rolled
    rolled = await _analytics(org, first_day - 40 * DAY, first_day + 40 * DAY)
    periods = analytics_rollups.split(first_day - 40 * DAY, first_day + 40 * DAY)
    assert not periods.raw and any(span == 16 for span, _, _ in periods.rolled)
    return _figures(raw), _figures(rolled)


async def test_fixture_figures_from_the_rollups(app: FastAPI, client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        name="ETL", nodes=[node("a"), node("b"), node("c")], edges=[edge("a", "b"), edge("b", "c")]
    )
    day = now_ms() // DAY * DAY - 3 * DAY
    await insert_runs(app.state.ctx.store, org.id, flow["id"], org.admin.id, day + HOUR)
    raw, rolled = await _raw_and_rolled(org, day)
    assert rolled == raw
    by_type = {t["type"]: t for t in rolled["nodeTypes"]}
    assert by_type["type_a"] == {
        "type": "type_a",
        "runs": 10,
        "p50": 500.0,
        "p95": 1000.0,
        "max": 1000.0,
        "failures": 0,
    }
    assert rolled["flows"] == [{"flowId": flow["id"], "runs": 10, "failures": 3, "p95": 10000.0}]
    (cache,) = [s for s in rolled["suggestions"] if s["kind"] == "cache"]
    assert cache["evidence"] == {"runs": 10, "distinctInputs": 2, "p95": 4000.0, "repeatShare": 0.8}

    # Retention (or any deletion of raw rows) leaves the history in the rollups.
    async with app.state.ctx.store.tenant(org.id, SYSTEM, write=True) as uow:
        await uow.execute(uow.delete(node_outputs))
        await uow.execute(uow.delete(runs))
    after = _figures(await _analytics(org, day - 40 * DAY, day + 40 * DAY))
    assert after == rolled
    gone = _figures(await _analytics(org, day + 1, day + 2 * DAY - 1))
    assert gone["flows"] == [] and gone["nodeTypes"] == []


def _by_key(rows: list[Any]) -> dict[tuple[str, ...], tuple[Any, ...]]:
    """Rows of ``raw_nodes``/``rolled_nodes`` as comparable numbers, with histograms."""
    return {
        tuple(r[:3]): (
            *(int(v or 0) for v in (r[3], r[4], r[5], r[8], r[9])),
            round(float(r[6] or 0), 3),
            round(float(r[10] or 0), 3),
            Histogram.from_columns(r[11:]),
        )
        for r in rows
    }


async def test_the_engine_writes_the_rollups(app: FastAPI, client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[
            n("a", "constant", value=2),
            n("m", "math", expression="value * 3"),
            n("bad", "math", expression="1 / 0"),
        ],
        edges=[e("a", "m"), e("a", "bad")],
    )
    await run_to_end(org, flow["id"])
    for _ in range(2):  # computed again (no cache), with the same inputs
        await run_to_end(org, flow["id"], force=True)
    today = now_ms() // DAY * DAY
    raw = _figures(await _analytics(org, today - DAY + 1, today + DAY - 1))
    rolled = _figures(await _analytics(org, today - 40 * DAY, today + 40 * DAY))
    # A run created in today's first millisecond would be left out of the raw range.
    assert rolled == raw
    assert raw["runs"] == 3 and raw["flows"][0]["failures"] == 3
    assert sum(t["runs"] for t in raw["nodeTypes"]) == 9
    assert [s["nodeId"] for s in raw["suggestions"] if s["kind"] == "always_fails"] == ["bad"]
    # Every column, the histograms' empty buckets included.
    async with app.state.ctx.store.tenant(org.id, SYSTEM) as uow:
        raw_rows = await analytics_rollups.raw_nodes(uow, [(today, today + DAY)], None)
        rolled_rows = await analytics_rollups.rolled_nodes(uow, [(1, today, today + DAY)], None)
    assert _by_key(rolled_rows) == _by_key(raw_rows)
    # a and m computed three times with the same cache key; bad failed three times.
    assert {k[1]: v[:5] for k, v in _by_key(rolled_rows).items()} == {
        "a": (3, 0, 3, 3, 2),
        "m": (3, 0, 3, 3, 2),
        "bad": (3, 3, 3, 0, 0),
    }


async def test_a_batch_with_the_same_keys_adds_up_as_one_row_at_a_time(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The nodes of several runs of one flow written by one transaction share their
    rollup rows: written together (one statement on PostgreSQL, whose ON CONFLICT cannot
    touch a row twice, so the rows are grouped first) they must add up exactly as the
    same rows written one per statement, repeats, extremes and histograms included."""
    org = await new_org(client)
    nodes = [n("a", "constant", value=1), n("b", "math", expression="1 / 0")]
    nodes.append(n("c", "math", expression="value"))
    batched = (await org.create_flow(name="batched", nodes=nodes, edges=[e("a", "c")]))["id"]
    single = (await org.create_flow(name="single", nodes=nodes, edges=[e("a", "c")]))["id"]
    created = now_ms() // DAY * DAY + HOUR
    store = app.state.ctx.store

    def finished(flow_id: str, run: int) -> list[analytics_rollups.NodeDone]:
        # Node a computed with one cache key in both runs (the second a repeat), b failed
        # in both, c timed in two buckets.
        at, output = created + 10 * run, f"out_{flow_id[-6:]}_{run}"
        return [
            analytics_rollups.NodeDone("a", "constant", False, 0.5 + run, output, at, "k" * 64),
            analytics_rollups.NodeDone("b", "math", True, 2.0, None, None, None),
            analytics_rollups.NodeDone("c", "math", False, 300.0 * run + 0.2, None, None, None),
        ]

    async with store.tenant(org.id, SYSTEM, write=True) as uow:
        for flow_id in (batched, single):
            for run in (1, 2):
                await uow.execute(
                    uow.insert(
                        node_outputs,
                        id=f"out_{flow_id[-6:]}_{run}",
                        flow_id=flow_id,
                        node_id="a",
                        output=b"1",
                        timestamp=created + 10 * run,
                        compute_time=0.5 + run,
                        size_bytes=1,
                        run_id=f"run_{flow_id[-6:]}_{run}",
                        cached=False,
                        cache_key="k" * 64,
                    )
                )
        together: dict[int, tuple[Any, list[dict[str, Any]]]] = {}
        for run in (1, 2):
            for statement, rows in analytics_rollups.nodes_finished(
                uow, batched, created, finished(batched, run)
            ):
                together.setdefault(id(statement), (statement, []))[1].extend(rows)
            for statement, rows in analytics_rollups.nodes_finished(
                uow, single, created, finished(single, run)
            ):
                for row in rows:
                    await uow.execute(statement, [row])
        for statement, rows in together.values():
            await uow.execute(statement, rows)

    async with store.tenant(org.id, SYSTEM) as uow:
        found = (
            await uow.execute(
                uow.select(analytics_nodes).order_by(
                    analytics_nodes.c.span, analytics_nodes.c.node_id
                )
            )
        ).all()
    by_flow: dict[str, list[dict[str, Any]]] = {batched: [], single: []}
    for row in found:
        values = dict(row._mapping)
        by_flow[values.pop("flow_id")].append(values)
    assert by_flow[batched] == by_flow[single]
    a = next(r for r in by_flow[batched] if r["node_id"] == "a" and r["span"] == 1)
    assert (a["failures"], a["timed"], a["keyed"], a["repeats"]) == (0, 2, 2, 1)
    assert (a["compute_ms"], a["max_ms"], a["keyed_ms"]) == (4.0, 2.5, 4.0)
    b = next(r for r in by_flow[batched] if r["node_id"] == "b" and r["span"] == 1)
    assert (b["failures"], b["timed"], b["compute_ms"], b["repeats"]) == (2, 2, 4.0, 0)
    assert b[f"h{bucket_of(2.0)}"] == 2
    c = next(r for r in by_flow[batched] if r["node_id"] == "c" and r["span"] == 1)
    low, high = bucket_of(300.2), bucket_of(600.2)
    assert low != high and (c[f"h{low}"], c[f"h{high}"]) == (1, 1)
    assert (c[f"lo{high}"], c[f"hi{high}"], c["max_ms"]) == (600.2, 600.2, 600.2)


async def test_rollups_travel_with_an_exported_org(client: httpx.AsyncClient) -> None:
    """Export and import (new ids) carry the rollup rows: the copy's analytics are the
    original's, with its flow's new id."""
    from tests.care.test_org_archives import export, import_

    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[n("a", "constant", value=2), n("m", "math", expression="value * 3")],
        edges=[e("a", "m")],
    )
    for _ in range(2):
        await run_to_end(org, flow["id"])
    today = now_ms() // DAY * DAY
    original = _figures(await _analytics(org, today - 40 * DAY, today + 40 * DAY))
    response = await import_(client, org.admin, await export(client, org.admin, org.id), ids="new")
    assert response.status_code == 201, response.text
    copy = Org(response.json()["id"], org.admin, client)
    new_flow = response.json()["importReport"]["remapped"]["flows"][flow["id"]]
    copied = _figures(await _analytics(copy, today - 40 * DAY, today + 40 * DAY))
    assert orjson.loads(orjson.dumps(copied).replace(new_flow.encode(), flow["id"].encode())) == (
        original
    )
    assert copied["runs"] == 2


def _down_up(sync: Any, settings: Settings) -> None:
    config = alembic_config(sync, settings)
    command.downgrade(config, "0019")
    command.upgrade(config, "head")


async def test_the_migration_backfills_the_rollups(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        name="ETL", nodes=[node("a"), node("b"), node("c")], edges=[edge("a", "b"), edge("b", "c")]
    )
    day = now_ms() // DAY * DAY - 3 * DAY
    store = app.state.ctx.store
    await insert_runs(store, org.id, flow["id"], org.admin.id, day + HOUR, rollups=False)
    before = _figures(await _analytics(org, day - 40 * DAY, day + 40 * DAY))
    assert before["flows"] == [] and before["nodeTypes"] == []

    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_down_up, settings)
            await conn.commit()
    finally:
        await engine.dispose()

    raw, rolled = await _raw_and_rolled(org, day)
    assert rolled == raw and rolled["runs"] == 10
    async with store.tenant(org.id, SYSTEM) as uow:
        spans = {
            r.span
            for r in (await uow.execute(uow.select(analytics_nodes, analytics_nodes.c.span))).all()
        }
    assert spans == {1, analytics_rollups.BLOCK_DAYS}


def test_split_reads_whole_days_and_blocks_from_the_rollups() -> None:
    start = 40 * BLOCK + 5 * DAY + 7
    end = 43 * BLOCK + 2 * DAY + 9
    periods = analytics_rollups.split(start, end)
    assert periods.raw == ((start, 40 * BLOCK + 6 * DAY), (43 * BLOCK + 2 * DAY, end))
    assert periods.rolled == (
        (1, 40 * BLOCK + 6 * DAY, 41 * BLOCK),
        (16, 41 * BLOCK, 43 * BLOCK),
        (1, 43 * BLOCK, 43 * BLOCK + 2 * DAY),
    )
    assert periods.days == (40 * BLOCK + 6 * DAY, 43 * BLOCK + 2 * DAY)
    assert analytics_rollups.split(DAY + 5, 2 * DAY - 5) == analytics_rollups.Periods(
        ((DAY + 5, 2 * DAY - 5),), (), None
    )
    assert analytics_rollups.split(DAY, 3 * DAY).rolled == ((1, DAY, 3 * DAY),)


def test_histogram_percentiles() -> None:
    values = [100.0 * (i + 1) for i in range(10)]
    hist = Histogram.of(values)
    assert (hist.percentile(50), hist.percentile(95), hist.maximum()) == (500.0, 1000.0, 1000.0)
    assert Histogram().percentile(50) is None
    assert bucket_of(0.0) == 0 and bucket_of(1.0) == 1 and bucket_of(1e12) == len(BOUNDS)
    # Within a bucket, between its smallest and largest value, exact at both ends.
    crowded = [10.0, 10.5, 11.0, 12.0, 15.0]
    assert len({bucket_of(v) for v in crowded}) == 1
    mixed = Histogram.of(crowded)
    for pct in range(1, 101):
        exact = sorted(crowded)[nearest_rank(len(crowded), pct) - 1]
        got = mixed.percentile(pct)
        assert got is not None and 10.0 <= got <= 15.0
        assert abs(got - exact) / exact < 0.585
    assert (mixed.percentile(1), mixed.percentile(100)) == (10.0, 15.0)
    merged = Histogram.of(values[:5])
    merged.merge(Histogram.of(values[5:]))
    assert merged == hist


def test_raw_rows_per_bucket_pivot_into_the_rollup_shape() -> None:
    """Rows per (key, bucket) from two intervals merge: sums add, each bucket keeps the
    least low and the greatest high; untimed rows (no bucket) count but have no times."""
    b = bucket_of(10.0)
    # keys (1), bucket, runs, failures, timed, output bytes, max, then MIN(v)
    rows = [
        ("f", b, 2, 0, 2, 0, 11.0, 10.0),
        ("f", b, 1, 1, 1, 0, 14.0, 14.0),
        ("f", None, 3, 0, 0, 0, None, None),
    ]
    ((key, runs_, failures, timed, output, top, *hist),) = analytics_rollups._pivot(rows, keys=1)
    assert (key, runs_, failures, timed, output, top) == ("f", 6, 1, 3, 0, 14.0)
    assert Histogram.from_columns(hist) == Histogram.of([10.0, 11.0, 14.0])
