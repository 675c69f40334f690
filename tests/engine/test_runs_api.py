"""Runs through the API, on SQLite and PostgreSQL, executed by the server's own worker."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest

from minibase.config import Settings
from minibase.services import run_worker
from tests.engine.helpers import e, n
from tests.engine.runs_helpers import (
    get,
    nodes_by_id,
    outputs,
    run_to_end,
    start,
    wait_for,
)
from tests.flows_helpers import new_org
from tests.test_access_matrix import invite_as
from tests.test_http_basics import assert_error


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"run_in_server": "always", "run_poll_seconds": 0.05, "run_lease_seconds": 3.0}
    )


CHAIN = (
    [
        n("a", "constant", value={"x": 4}),
        n("double", "math", expression="x * 2"),
        n("out", "output"),
    ],
    [e("a", "double"), e("double", "out")],
)


async def test_run_records_every_node_output(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=CHAIN[0], edges=CHAIN[1])
    run = await start(org, flow["id"])
    assert run["status"] == "queued" and run["id"].startswith("run_")
    assert run["trigger"] == {"type": "manual", "id": None}
    assert [node["status"] for node in run["nodes"]] == ["pending"] * 3
    run = await wait_for(org, run["id"])
    assert run["status"] == "succeeded", run
    assert run["error"] is None and run["flowVersion"] == 1
    assert run["startedAt"] <= run["finishedAt"]
    nodes = nodes_by_id(run)
    assert [n_["nodeId"] for n_ in run["nodes"]] == ["a", "double", "out"]
    for node in nodes.values():
        assert node["status"] == "succeeded" and node["cached"] is False
        assert node["computeTime"] >= 0 and node["outputId"].startswith("out_")
    rows = {row["nodeId"]: row for row in await outputs(org, flow["id"])}
    assert rows["out"]["output"] == {"value": 8}
    assert rows["double"]["runId"] == run["id"] and rows["double"]["cached"] is False
    assert rows["double"]["id"] == nodes["double"]["outputId"]
    listed = (await client.get(f"/v1/orgs/{org.id}/runs", headers=org.admin.headers)).json()
    assert [r["id"] for r in listed["items"]] == [run["id"]]
    by_flow = await client.get(
        f"/v1/orgs/{org.id}/runs",
        params={"flowId": flow["id"], "status": "failed"},
        headers=org.admin.headers,
    )
    assert by_flow.json()["items"] == []


async def test_cache_hits_misses_and_upstream_changes(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=CHAIN[0], edges=CHAIN[1])
    await run_to_end(org, flow["id"])
    second = await run_to_end(org, flow["id"])
    assert second["status"] == "succeeded"
    assert all(node["cached"] for node in second["nodes"])
    cached_rows = [r for r in await outputs(org, flow["id"]) if r["runId"] == second["id"]]
    assert len(cached_rows) == 3 and all(r["cached"] for r in cached_rows)
    forced = await run_to_end(org, flow["id"], force=True)
    assert not any(node["cached"] for node in forced["nodes"])
    # Change the constant: it and everything below it run again.
    nodes = [dict(node) for node in CHAIN[0]]
    nodes[0] = n("a", "constant", value={"x": 5})
    put = await client.put(
        f"{org.flows_url}/{flow['id']}",
        json={"nodes": nodes, "edges": CHAIN[1], "baseVersion": flow["version"]},
        headers=org.admin.headers,
    )
    assert put.status_code == 200, put.text
    changed = await run_to_end(org, flow["id"])
    assert changed["flowVersion"] == 2
    assert {k: v["cached"] for k, v in nodes_by_id(changed).items()} == {
        "a": False,
        "double": False,
        "out": False,
    }
    latest = await outputs(org, flow["id"], nodeId="out", latest="true")
    assert latest[0]["output"] == {"value": 10}
    # An older version still runs, from the cache.
    old = await run_to_end(org, flow["id"], version=1)
    assert old["flowVersion"] == 1 and all(node["cached"] for node in old["nodes"])


async def test_a_fan_out_is_served_from_the_cache_node_by_node(client: httpx.AsyncClient) -> None:
    # Twelve branches with one key (same type, config and input) and two with their own:
    # looked up together in one transaction, each node gets its own result.
    branches = [n(f"b{i}", "output") for i in range(12)]
    own = [n("t1", "template", template="one {{value}}"), n("t2", "output")]
    nodes = [n("a", "constant", value=3), *branches, *own]
    edges = [e("a", b["id"]) for b in [*branches, *own[:1]]] + [e("t1", "t2")]
    org = await new_org(client)
    flow = await org.create_flow(nodes=nodes, edges=edges)
    first = await run_to_end(org, flow["id"])
    assert first["status"] == "succeeded", first
    second = await run_to_end(org, flow["id"])
    assert second["status"] == "succeeded", second
    assert all(node["cached"] for node in second["nodes"])
    rows = {r["nodeId"]: r for r in await outputs(org, flow["id"]) if r["runId"] == second["id"]}
    firsts = {r["nodeId"]: r for r in await outputs(org, flow["id"]) if r["runId"] == first["id"]}
    assert len(rows) == len(nodes)
    assert all(rows[k]["output"] == firsts[k]["output"] for k in rows)


async def test_a_rerun_reads_the_cache_from_the_flows_last_run(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A chain long enough to read ahead, and a branch whose outputs are too big to.
    chain = [n("a", "constant", value={"value": 1})]
    chain += [n(f"m{i}", "math", expression="value + 1") for i in range(18)]
    nodes = [*chain, n("out", "output"), n("big", "constant", value="y" * 10_000)]
    nodes.append(n("bigout", "output"))
    ids = [node["id"] for node in chain] + ["out"]
    edges = [e(x, y) for x, y in itertools.pairwise(ids)] + [e("big", "bigout")]
    assert len(nodes) >= run_worker.PREFETCH_MIN_NODES
    looked_up: list[str] = []
    find = run_worker._find

    async def counting_find(uow: Any, key: str, flow_id: str | None) -> Any:
        looked_up.append(key)
        return await find(uow, key, flow_id)

    monkeypatch.setattr(run_worker, "_find", counting_find)
    org = await new_org(client)
    flow = await org.create_flow(nodes=nodes, edges=edges)
    first = await run_to_end(org, flow["id"])
    assert first["status"] == "succeeded" and len(looked_up) == len(nodes)
    looked_up.clear()
    second = await run_to_end(org, flow["id"])
    assert second["status"] == "succeeded"
    assert all(node["cached"] for node in second["nodes"])
    assert len(looked_up) == 2  # big and bigout: the rest came with the first lookup
    rows = {r["nodeId"]: r for r in await outputs(org, flow["id"]) if r["runId"] == second["id"]}
    assert rows["out"]["output"] == {"value": 19} and rows["bigout"]["output"] == {
        "value": "y" * 10_000
    }
    # A changed constant changes every key below it: those miss, and run again.
    changed = [dict(node) for node in nodes]
    changed[0] = n("a", "constant", value={"value": 100})
    put = await client.put(
        f"{org.flows_url}/{flow['id']}",
        json={"nodes": changed, "edges": edges, "baseVersion": flow["version"]},
        headers=org.admin.headers,
    )
    assert put.status_code == 200, put.text
    looked_up.clear()
    third = await run_to_end(org, flow["id"])
    cached = {k: v["cached"] for k, v in nodes_by_id(third).items()}
    assert cached == {node["id"]: node["id"] in ("big", "bigout") for node in nodes}
    assert len(looked_up) == len(nodes)
    assert (await outputs(org, flow["id"], nodeId="out", latest="true"))[0]["output"] == {
        "value": 118
    }


async def test_subset_runs_only_what_the_nodes_need(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[*CHAIN[0], n("lonely", "constant", value=1)], edges=CHAIN[1]
    )
    run = await run_to_end(org, flow["id"], nodes=["double"])
    assert [node["nodeId"] for node in run["nodes"]] == ["a", "double"]
    await start(org, flow["id"], expect=422, nodes=["ghost"])


async def test_failure_fails_the_run_and_skips_dependants(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[
            n("zero", "constant", value={"d": 0}),
            n("divide", "math", expression="1 / d"),
            n("after", "output"),
            n("side", "output"),
        ],
        edges=[e("zero", "divide"), e("divide", "after"), e("zero", "side")],
    )
    run = await run_to_end(org, flow["id"])
    assert run["status"] == "failed"
    assert run["error"]["nodeId"] == "divide" and run["error"]["code"] == "expression_error"
    nodes = nodes_by_id(run)
    assert nodes["divide"]["status"] == "failed"
    assert nodes["after"]["status"] == "skipped"
    assert nodes["side"]["status"] == "succeeded"


async def test_cancel_and_time_limit(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[n("wait", "delay", seconds=30), n("after", "output")], edges=[e("wait", "after")]
    )
    run = await start(org, flow["id"])
    await wait_for(org, run["id"], {"running"})
    cancel = await client.post(
        f"/v1/orgs/{org.id}/runs/{run['id']}/cancel", headers=org.admin.headers
    )
    assert cancel.status_code == 202, cancel.text
    assert cancel.json()["cancelRequested"] is True
    done = await wait_for(org, run["id"])
    assert done["status"] == "canceled"
    assert {node["status"] for node in done["nodes"]} == {"canceled"}
    again = await client.post(
        f"/v1/orgs/{org.id}/runs/{run['id']}/cancel", headers=org.admin.headers
    )
    assert_error(again, 409, "conflict")
    limited = await run_to_end(org, flow["id"], timeoutSeconds=0.3)
    assert limited["status"] == "timed_out"
    assert limited["error"]["code"] == "timed_out"


async def test_processing_options(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[
            n("kept", "constant", value=1),
            n("transient", "constant", {"persistOutput": False}, value=2),
            n("latest", "constant", {"enableVersioning": False}, value=3),
        ],
        edges=[],
    )
    for _ in range(3):
        run = await run_to_end(org, flow["id"], force=True)
        assert run["status"] == "succeeded"
    nodes = nodes_by_id(run)
    assert nodes["transient"]["outputId"] is None and nodes["transient"]["computeTime"] >= 0
    rows = await outputs(org, flow["id"])
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["nodeId"]] = counts.get(row["nodeId"], 0) + 1
    assert counts == {"kept": 3, "latest": 1}


async def test_shared_cache_across_flows(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    shared = {"shareAcrossOrganization": True}
    nodes = [n("a", "constant", value=7), n("m", "math", shared, expression="value + 1")]
    first = await org.create_flow(nodes=nodes, edges=[e("a", "m")])
    await run_to_end(org, first["id"])
    second = await org.create_flow(
        nodes=[n("b", "constant", value=7), n("m2", "math", shared, expression="value + 1")],
        edges=[e("b", "m2")],
    )
    run = await run_to_end(org, second["id"])
    assert nodes_by_id(run)["m2"]["cached"] is True
    private = await org.create_flow(
        nodes=[n("b", "constant", value=7), n("m3", "math", expression="value + 1")],
        edges=[e("b", "m3")],
    )
    run = await run_to_end(org, private["id"])
    assert nodes_by_id(run)["m3"]["cached"] is False


@pytest.mark.parametrize(
    ("nodes", "edges", "field"),
    [
        ([n("x", "no_such_type")], [], "nodes.x.type"),
        ([n("m", "math", expression="import os")], [], "nodes.m.data.expression"),
        ([n("m", "math")], [], "nodes.m.data.expression"),
        (
            [n("a", "merge"), n("b", "merge")],
            [e("a", "b"), e("b", "a")],
            "edges",
        ),
        (
            [n("num", "math", expression="1"), n("f", "filter", expression="item")],
            [e("num", "f")],
            "nodes.f.inputs.items",
        ),
    ],
)
async def test_invalid_flows_are_422_before_anything_runs(
    client: httpx.AsyncClient, nodes: list[dict[str, Any]], edges: list[dict[str, Any]], field: str
) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=nodes, edges=edges)
    response = await client.post(
        f"{org.flows_url}/{flow['id']}/runs", json={}, headers=org.admin.headers
    )
    assert_error(response, 422, "validation_error")
    assert field in [f["field"] for f in response.json()["error"]["details"]["fields"]]
    listed = (await client.get(f"/v1/orgs/{org.id}/runs", headers=org.admin.headers)).json()
    assert listed["items"] == []


async def test_bad_bodies_roles_and_allowed_types(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=CHAIN[0], edges=CHAIN[1])
    url = f"{org.flows_url}/{flow['id']}/runs"
    for body in ({"inputs": []}, {"nodes": "a"}, {"version": 0}, {"force": "yes"}):
        assert_error(
            await client.post(url, json=body, headers=org.admin.headers), 422, "validation_error"
        )
    bad_json = await client.post(
        url, content=b"{", headers={**org.admin.headers, "content-type": "application/json"}
    )
    assert_error(bad_json, 400, "bad_request")
    viewer = await invite_as(client, org.admin, org.id, "viewer")
    assert_error(await client.post(url, json={}, headers=viewer.headers), 403, "forbidden")
    run = await run_to_end(org, flow["id"])
    seen = await client.get(f"/v1/orgs/{org.id}/runs/{run['id']}", headers=viewer.headers)
    assert seen.status_code == 200
    missing = await client.get(f"/v1/orgs/{org.id}/runs/run_nope", headers=org.admin.headers)
    assert_error(missing, 404, "not_found")
    await org.patch_settings(allowedNodeTypes=["constant", "output"])
    refused = await client.post(url, json={}, headers=org.admin.headers)
    assert_error(refused, 403, "quota_exceeded")
    assert refused.json()["error"]["details"]["used"] == ["math"]
    types = await client.get("/v1/node-types", params={"orgId": org.id}, headers=org.admin.headers)
    assert {t["type"] for t in types.json()["items"]} == {"constant", "output"}


async def test_node_types_are_listed(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    response = await client.get("/v1/node-types", headers=org.admin.headers)
    assert response.status_code == 200
    items = {t["type"]: t for t in response.json()["items"]}
    assert {
        "input",
        "constant",
        "template",
        "json_path",
        "transform",
        "math",
        "condition",
        "merge",
        "filter",
        "map",
        "http_request",
        "delay",
        "output",
    } <= set(items)
    math = items["math"]
    assert math["version"] == 1 and math["category"] == "logic"
    assert math["inputs"] == [{"name": "values", "schema": {}, "required": False}]
    assert math["outputs"] == [{"name": "value", "schema": {"type": "number"}}]
    assert "expression" in math["configSchema"]["properties"]
    assert items["http_request"]["idempotent"] is False
    other = await client.get(
        "/v1/node-types", params={"orgId": "org_nope"}, headers=org.admin.headers
    )
    assert_error(other, 404, "not_found")


async def test_inputs_reach_input_nodes(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[n("in", "input", name="who"), n("greet", "template", template="hi {{ $ }}")],
        edges=[e("in", "greet")],
    )
    run = await run_to_end(org, flow["id"], inputs={"who": "ada"})
    rows = {r["nodeId"]: r for r in await outputs(org, flow["id"])}
    assert run["status"] == "succeeded" and rows["greet"]["output"] == {"text": "hi ada"}
    other = await run_to_end(org, flow["id"], inputs={"who": "bob"})
    assert nodes_by_id(other)["greet"]["cached"] is False
    again = await get(org, (await run_to_end(org, flow["id"], inputs={"who": "bob"}))["id"])
    assert nodes_by_id(again)["greet"]["cached"] is True


async def _runs_of(org: Any, flow_id: str) -> list[dict[str, Any]]:
    response = await org.client.get(
        f"/v1/orgs/{org.id}/runs", params={"flowId": flow_id}, headers=org.admin.headers
    )
    return list(response.json()["items"])


async def _wait_change_run(org: Any, flow_id: str, trigger_id: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        for run in await _runs_of(org, flow_id):
            if run["trigger"] == {"type": "change", "id": trigger_id}:
                return await wait_for(org, run["id"])
        assert asyncio.get_running_loop().time() < deadline, "no change run"
        await asyncio.sleep(0.02)


async def test_immediate_nodes_rerun_after_changes_that_touch_them(
    client: httpx.AsyncClient,
) -> None:
    org = await new_org(client)
    immediate = {"cachingStrategy": "immediate"}
    nodes = [n("a", "constant", immediate, value=1), n("out", "output")]
    edges = [e("a", "out")]
    flow = await org.create_flow(nodes=nodes, edges=edges)
    first = await _wait_change_run(org, flow["id"], "v1")
    assert first["status"] == "succeeded" and first["createdBy"] == "system"
    assert [node["nodeId"] for node in first["nodes"]] == ["a", "out"]
    url = f"{org.flows_url}/{flow['id']}"
    unrelated = [*nodes, n("z", "constant", value=0)]
    put = await client.put(
        url, json={"nodes": unrelated, "edges": edges, "baseVersion": 1}, headers=org.admin.headers
    )
    assert put.status_code == 200
    touched = [n("a", "constant", immediate, value=2), n("out", "output"), unrelated[2]]
    put = await client.put(
        url, json={"nodes": touched, "edges": edges, "baseVersion": 2}, headers=org.admin.headers
    )
    assert put.status_code == 200
    third = await _wait_change_run(org, flow["id"], "v3")
    assert third["flowVersion"] == 3 and third["status"] == "succeeded"
    triggers = [r["trigger"]["id"] for r in await _runs_of(org, flow["id"])]
    assert triggers == ["v3", "v1"]  # the unrelated change (v2) started nothing
    latest = await outputs(org, flow["id"], nodeId="out", latest="true")
    assert latest[0]["output"] == {"value": 2}


async def test_scheduled_nodes_are_not_computed_by_manual_runs(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[
            n("nightly", "constant", {"cachingStrategy": "scheduled"}, value=1),
            n("out", "output"),
        ],
        edges=[e("nightly", "out")],
    )
    run = await run_to_end(org, flow["id"])
    nodes = nodes_by_id(run)
    assert nodes["nightly"]["status"] == "skipped"
    assert nodes["nightly"]["error"]["code"] == "not_computed"
    assert nodes["out"]["status"] == "skipped"
