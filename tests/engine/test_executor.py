"""DAG semantics of the executor, without a database."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from minibase.engine.builtins import BUILTINS
from minibase.engine.executor import RunSpec, execute, finish_canceled
from minibase.engine.node_types import EmptyConfig, NodeContext, NodeType, Port
from minibase.engine.plan import PlanError, build_plan
from minibase.engine.registry import NodeRegistry
from tests.engine.helpers import MemoryRecorder, e, n

ENTERED: dict[str, asyncio.Event] = {}


async def _gate(config: Any, inputs: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
    """Signals that it started, then waits for its sibling: proves two run at once."""
    ENTERED[ctx.node_id].set()
    other = "g2" if ctx.node_id == "g1" else "g1"
    await asyncio.wait_for(ENTERED[other].wait(), 5)
    return {"value": ctx.node_id}


def _boom(config: Any, inputs: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
    raise RuntimeError("kaput")


def _bad_output(config: Any, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
    return {"value": object()}


EXTRA = (
    NodeType("gate", 1, "test", "Gate", "", (), (Port("value"),), EmptyConfig, _gate),
    NodeType(
        "boom",
        1,
        "test",
        "Boom",
        "",
        (Port("value", required=False),),
        (Port("value"),),
        EmptyConfig,
        _boom,
    ),
    NodeType("bad_output", 1, "test", "Bad", "", (), (Port("value"),), EmptyConfig, _bad_output),
)


def registry() -> NodeRegistry:
    return NodeRegistry((*BUILTINS, *EXTRA))


def spec(**options: Any) -> RunSpec:
    return RunSpec(
        run_id="run_t",
        flow_id="flow_t",
        organization_id="org_t",
        inputs=options.pop("inputs", {}),
        **options,
    )


async def run(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **options: Any):  # type: ignore[no-untyped-def]
    plan = build_plan(nodes, edges, registry())
    recorder = MemoryRecorder()
    results = await execute(plan, spec(**options), recorder)
    return results, recorder


async def test_topological_order_and_values() -> None:
    results, recorder = await run(
        [
            n("out", "output"),
            n("m", "math", expression="a * b"),
            n("a", "constant", value={"a": 6, "b": 7}),
        ],
        [e("a", "m"), e("m", "out")],
    )
    assert results["out"].outputs == {"value": 42}
    starts = [node for kind, node in recorder.events if kind == "start"]
    assert starts.index("a") < starts.index("m") < starts.index("out")


async def test_math_gets_object_fields() -> None:
    results, _ = await run(
        [n("a", "constant", value={"x": 2}), n("m", "math", expression="x * 10")],
        [e("a", "m")],
    )
    assert results["m"].outputs == {"value": 20}


async def test_independent_branches_run_concurrently() -> None:
    ENTERED.clear()
    ENTERED.update(g1=asyncio.Event(), g2=asyncio.Event())
    results, _ = await run([n("g1", "gate"), n("g2", "gate")], [])
    assert {r.status for r in results.values()} == {"succeeded"}


async def test_failure_skips_dependants_and_names_the_node() -> None:
    results, _ = await run(
        [n("c", "constant", value=1), n("b", "boom"), n("after", "output"), n("other", "output")],
        [e("c", "b"), e("b", "after"), e("c", "other")],
    )
    assert results["b"].status == "failed"
    assert results["b"].error == {
        "code": "node_error",
        "message": "RuntimeError: kaput",
        "nodeId": "b",
    }
    assert results["after"].status == "skipped"
    assert results["after"].error is not None and results["after"].error["nodeId"] == "b"
    assert results["other"].status == "succeeded"


async def test_invalid_output_fails_the_node_not_the_executor() -> None:
    results, _ = await run([n("x", "bad_output")], [])
    assert results["x"].status == "failed"
    assert results["x"].error is not None and results["x"].error["code"] == "invalid_output"


async def test_node_timeout() -> None:
    results, _ = await run([n("d", "delay", processing={"timeoutSeconds": 0.05}, seconds=5)], [])
    assert results["d"].status == "failed"
    assert results["d"].error is not None and results["d"].error["code"] == "timeout"


async def test_cancel_marks_unfinished_nodes() -> None:
    plan = build_plan(
        [n("d", "delay", seconds=30), n("after", "output"), n("c", "constant", value=1)],
        [e("d", "after")],
        registry(),
    )
    recorder = MemoryRecorder()
    run_spec = spec()
    task = asyncio.create_task(execute(plan, run_spec, recorder))
    await asyncio.wait_for(recorder.any_started.wait(), 5)
    assert ("start", "d") in recorder.events
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    finish_canceled(plan, run_spec, recorder, code="canceled")
    assert recorder.results["d"].status == "canceled"
    assert recorder.results["after"].status == "canceled"
    assert recorder.results["c"].status == "succeeded"


async def test_condition_skips_the_other_branch_and_merge_joins() -> None:
    nodes = [
        n("v", "input", name="n"),
        n("if", "condition", expression="value > 10"),
        n("big", "template", template="big {{ $ }}"),
        n("small", "template", template="small {{ $ }}"),
        n("join", "merge"),
    ]
    edges = [
        e("v", "if"),
        e("if", "big", "true", "values"),
        e("if", "small", "false", "values"),
        e("big", "join", "text", "items"),
        e("small", "join", "text", "items"),
    ]
    results, _ = await run(nodes, edges, inputs={"n": 50})
    assert results["small"].status == "skipped"
    assert results["join"].outputs == {"value": "big 50"}
    results, _ = await run(nodes, edges, inputs={"n": 3})
    assert results["big"].status == "skipped"
    assert results["join"].outputs == {"value": "small 3"}


async def test_filter_map_transform_json_path() -> None:
    results, _ = await run(
        [
            n("list", "constant", value={"rows": [{"v": 1}, {"v": 5}, {"v": 9}]}),
            n("path", "json_path", path="$.rows"),
            n("keep", "filter", expression="item.v > 2"),
            n("double", "map", expression="item.v * 2"),
            n("shape", "transform", mapping={"first": "$[0]", "count": "$.length"}),
        ],
        [
            e("list", "path"),
            e("path", "keep", "value", "items"),
            e("keep", "double"),
            e("double", "shape", "items", "value"),
        ],
    )
    assert results["double"].outputs == {"items": [10, 18]}
    assert results["shape"].outputs == {"value": {"first": 10, "count": None}}


async def test_cache_hits_by_inputs_not_node_ids() -> None:
    nodes = [n("a", "constant", value=2), n("m", "math", expression="value * 3")]
    plan = build_plan(nodes, [e("a", "m")], registry())
    recorder = MemoryRecorder()
    first = await execute(plan, spec(), recorder)
    assert not first["m"].cached
    renamed = build_plan(
        [n("a2", "constant", value=2), n("m2", "math", expression="value * 3")],
        [e("a2", "m2")],
        registry(),
    )
    second = await execute(renamed, spec(), recorder)
    assert second["m2"].cached and second["m2"].outputs == {"value": 6}
    changed = build_plan(
        [n("a", "constant", value=4), n("m", "math", expression="value * 3")],
        [e("a", "m")],
        registry(),
    )
    third = await execute(changed, spec(), recorder)
    assert not third["m"].cached and third["m"].outputs == {"value": 12}
    forced = await execute(plan, spec(force=True), recorder)
    assert not forced["m"].cached


async def test_non_idempotent_types_are_not_cached_unless_asked() -> None:
    recorder = MemoryRecorder()
    for _ in range(2):
        plan = build_plan([n("d", "delay", seconds=0)], [], registry())
        results = await execute(plan, spec(), recorder)
    assert not results["d"].cached
    plan = build_plan(
        [n("d", "delay", processing={"cacheNonIdempotent": True}, seconds=0)], [], registry()
    )
    await execute(plan, spec(), recorder)
    results = await execute(plan, spec(), recorder)
    assert results["d"].cached


def test_plan_errors_name_nodes_and_fields() -> None:
    with pytest.raises(PlanError) as caught:
        build_plan(
            [
                n("x", "nope"),
                n("m", "math", expression="__import__('os')"),
                n("t", "template"),
                n("f", "filter", expression="item"),
                n("c", "constant", value="s"),
                n("num", "math", expression="1"),
            ],
            [e("num", "f", "value", "items")],
            registry(),
        )
    fields = {f["field"]: f for f in caught.value.fields}
    assert "nodes.x.type" in fields
    assert "nodes.m.data.expression" in fields
    assert "nodes.t.data.template" in fields
    assert fields["nodes.f.inputs.items"]["type"] == "type_mismatch"


def test_cycles_are_refused() -> None:
    with pytest.raises(PlanError) as caught:
        build_plan(
            [
                n("a", "merge"),
                n("b", "merge"),
                n("c", "output"),
                n("s", "constant"),
                n("z", "output"),
            ],
            [e("s", "a"), e("a", "b"), e("b", "c"), e("c", "a"), e("c", "z")],
            registry(),
        )
    (problem,) = caught.value.fields
    assert problem["type"] == "cycle"
    assert problem["nodeIds"] == ["a", "b", "c"]
