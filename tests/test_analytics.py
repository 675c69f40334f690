"""Analytics against a hand-computed fixture (tests/insight_fixture.py); bad ranges."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from minibase.ids import now_ms
from minibase.services.analytics import critical_path
from tests.flows_helpers import edge, new_org, node
from tests.insight_fixture import insert_runs
from tests.test_http_basics import assert_error
from tests.together_helpers import add_member

HOUR = 3_600_000
DAY = 86_400_000


async def test_analytics_figures_and_suggestions(app: FastAPI, client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        name="ETL", nodes=[node("a"), node("b"), node("c")], edges=[edge("a", "b"), edge("b", "c")]
    )
    start = (now_ms() // DAY) * DAY + 1000  # every run on today's day
    if start + 10 * 60_000 > now_ms():
        start = now_ms() - DAY + 1000
    fixture = await insert_runs(app.state.ctx.store, org.id, flow["id"], org.admin.id, start)
    viewer = await add_member(client, org.admin, org.id, "viewer")
    response = await client.get(
        f"/v1/orgs/{org.id}/analytics",
        params={"from": fixture.start - HOUR, "to": now_ms() + HOUR},
        headers=viewer.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    by_type = {t["type"]: t for t in body["nodeTypes"]}
    assert by_type["type_a"] == {
        "type": "type_a",
        "runs": 10,
        "p50": 500.0,
        "p95": 1000.0,
        "max": 1000.0,
        "failures": 0,
    }
    assert by_type["type_b"]["p50"] == by_type["type_b"]["p95"] == 4000.0
    assert (by_type["type_c"]["failures"], by_type["type_c"]["p95"]) == (3, 10.0)
    assert [(n["nodeId"], n["p95"]) for n in body["slowestNodes"]] == [
        ("b", 4000.0),
        ("a", 1000.0),
        ("c", 10.0),
    ]
    assert body["flows"] == [{"flowId": flow["id"], "runs": 10, "failures": 3, "p95": 10000.0}]
    assert body["usage"]["runs"] == 10 and body["usage"]["edits"] == 1
    assert body["usage"]["activeUsers"] == 2  # the admin, and the viewer who joined
    (run_day,) = [d for d in body["daily"] if d["runs"]]
    assert (run_day["runs"], run_day["failures"]) == (10, 3)

    kinds = {s["kind"]: s for s in body["suggestions"]}
    cache = kinds["cache"]
    assert (cache["flowId"], cache["nodeId"]) == (flow["id"], "b")
    assert cache["message"] == (
        "Node b took p95 4.0 s and its inputs did not change in 80% of runs: cache it."
    )
    assert cache["estimatedSavingMs"] == 32000.0
    assert cache["evidence"] == {"runs": 10, "distinctInputs": 2, "p95": 4000.0, "repeatShare": 0.8}
    bottleneck = kinds["bottleneck"]
    assert bottleneck["nodeId"] == "b"
    assert bottleneck["evidence"]["criticalPath"] == ["a", "b", "c"]
    assert bottleneck["evidence"]["pathMs"] == 4510.0
    failing = kinds["always_fails"]
    assert (failing["nodeId"], failing["evidence"]["failedRuns"]) == ("c", 3)
    assert "unused_node_types" not in kinds
    await org.patch_settings(allowedNodeTypes=["type_a", "type_b", "type_c", "type_z"])
    again = await client.get(
        f"/v1/orgs/{org.id}/analytics",
        params={"from": fixture.start - HOUR, "to": now_ms() + HOUR, "flowId": flow["id"]},
        headers=viewer.headers,
    )
    unused = [s for s in again.json()["suggestions"] if s["kind"] == "unused_node_types"]
    assert unused[0]["evidence"]["types"] == ["type_z"]

    # Outside the runs' range: nothing but the org's storage.
    empty = await client.get(
        f"/v1/orgs/{org.id}/analytics",
        params={"from": fixture.start - 10 * DAY, "to": fixture.start - 9 * DAY},
        headers=viewer.headers,
    )
    assert empty.json()["nodeTypes"] == [] and empty.json()["flows"] == []
    assert [s["kind"] for s in empty.json()["suggestions"]] == ["unused_node_types"]


async def test_bad_ranges(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    url = f"/v1/orgs/{org.id}/analytics"
    h = org.admin.headers
    for params in (
        {"from": 2000, "to": 1000},
        {"from": 1000, "to": 1000},
        {"from": 0, "to": 367 * DAY},
        {"from": -1},
        {"to": "soon"},
    ):
        assert_error(await client.get(url, params=params, headers=h), 422, "validation_error")
    assert (
        await client.get(url, params={"from": 0, "to": 366 * DAY}, headers=h)
    ).status_code == 200
    assert_error(await client.get(url, params={"flowId": "flow_nope"}, headers=h), 404, "not_found")


def test_critical_path() -> None:
    weights = {"a": 1.0, "b": 5.0, "c": 1.0, "d": 2.0}
    assert critical_path(weights, [("a", "b"), ("a", "c"), ("c", "d"), ("b", "d")]) == (
        ["a", "b", "d"],
        8.0,
    )
    assert critical_path({}, []) == ([], 0.0)
