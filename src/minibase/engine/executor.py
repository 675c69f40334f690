"""The DAG executor: runs a plan's nodes in dependency order, independent branches at once.

It knows nothing of storage. A :class:`Recorder` is told when a node starts and how it
ended, and is asked for a cached result before a node runs; the worker's recorder writes
both to the database. Nodes already finished by an earlier attempt of the run (a worker
that died) are passed in ``done`` and not run again.

Outcomes: a node that raises fails (its dependants are ``skipped``, the run fails and
names it); one that passes its timeout fails with ``timeout``; a node fed only by inactive
ports (the untaken branch of a condition) or by skipped nodes is ``skipped`` without
failing the run. Cancelling the task that runs :func:`execute` cancels the nodes in
flight; :func:`finish_canceled` then marks what did not finish.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson

from minibase.engine.cache_keys import cache_key, cacheable
from minibase.engine.node_types import NodeContext, NodeFailure
from minibase.engine.plan import Plan, PlanNode

log = logging.getLogger("minibase.engine")

NodeStatus = Literal["pending", "running", "succeeded", "failed", "skipped", "canceled"]
FINAL: frozenset[str] = frozenset({"succeeded", "failed", "skipped", "canceled"})


@dataclass(slots=True)
class NodeResult:
    node_id: str
    status: NodeStatus
    outputs: dict[str, Any] | None = None
    cached: bool = False
    started_at: int | None = None
    finished_at: int | None = None
    compute_time: float = 0.0
    """Milliseconds spent in the node's process function (of the original run when cached)."""
    error: dict[str, Any] | None = None
    cache_key: str | None = None
    output_bytes: bytes | None = None
    """The outputs as JSON (what is stored)."""


@dataclass(frozen=True, slots=True)
class CachedResult:
    outputs: dict[str, Any]
    output_bytes: bytes
    compute_time: float


class Recorder(Protocol):
    async def lookup(self, node: PlanNode, key: str) -> CachedResult | None: ...

    def started(self, node_id: str, at: int) -> None: ...

    def finished(self, result: NodeResult) -> None: ...


@dataclass(slots=True)
class RunSpec:
    """What one execution of a plan needs besides the plan."""

    run_id: str
    flow_id: str
    organization_id: str
    inputs: Mapping[str, Any]
    payload: Any = None
    force: bool = False
    """Ignore the cache."""
    node_timeout: float = 300.0
    allow_private_addresses: bool = False
    max_output_bytes: int = 1024 * 1024
    skip_strategies: frozenset[str] = frozenset()
    """``cachingStrategy`` values whose nodes are not computed in this run (their latest
    output is looked up instead): ``scheduled`` outside schedule runs."""
    results: dict[str, NodeResult] = field(default_factory=dict)


def _now() -> int:
    return time.time_ns() // 1_000_000


async def execute(
    plan: Plan,
    spec: RunSpec,
    recorder: Recorder,
    *,
    done: Mapping[str, NodeResult] | None = None,
) -> dict[str, NodeResult]:
    """Run every node of ``plan``; returns each node's result (also in ``spec.results``)."""
    results = spec.results
    results.update(done or {})
    waiting = {
        node_id: {w.source for w in node.inbound} - set(results)
        for node_id, node in plan.nodes.items()
        if node_id not in results
    }
    running: dict[asyncio.Task[NodeResult], str] = {}

    def launch_ready() -> None:
        for node_id in [n for n, deps in waiting.items() if not deps]:
            del waiting[node_id]
            node = plan.nodes[node_id]
            task = asyncio.create_task(_run_node(node, spec, recorder, results))
            running[task] = node_id

    launch_ready()
    try:
        while running:
            finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                node_id = running.pop(task)
                result = task.result()
                results[node_id] = result
                recorder.finished(result)
                for child in {w.target for w in plan.nodes[node_id].outbound}:
                    if child in waiting:
                        waiting[child].discard(node_id)
            launch_ready()
    except asyncio.CancelledError:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        raise
    return results


def finish_canceled(plan: Plan, spec: RunSpec, recorder: Recorder, *, code: str) -> None:
    """Mark every node without a final result as canceled (after a cancel or time limit)."""
    now = _now()
    for node_id in plan.nodes:
        result = spec.results.get(node_id)
        if result is None or result.status not in FINAL:
            canceled = NodeResult(
                node_id,
                "canceled",
                started_at=result.started_at if result else None,
                finished_at=now,
                error={"code": code, "message": "The run was stopped before this node finished."},
            )
            spec.results[node_id] = canceled
            recorder.finished(canceled)


def _gather_inputs(
    node: PlanNode, results: Mapping[str, NodeResult]
) -> tuple[dict[str, Any], str | None, dict[str, Any] | None]:
    """The node's inputs, and why it must be skipped (``None``: it runs)."""
    inputs: dict[str, Any] = {}
    delivered = 0
    for wire in node.inbound:
        upstream = results[wire.source]
        if upstream.status in {"failed", "canceled"}:
            return (
                {},
                "skipped",
                {
                    "code": "upstream_failed",
                    "message": f"Node {wire.source} did not succeed.",
                    "nodeId": wire.source,
                },
            )
        outputs = upstream.outputs or {}
        if upstream.status != "succeeded" or wire.source_port not in outputs:
            continue
        delivered += 1
        value = outputs[wire.source_port]
        port = node.node_type.input(wire.target_port)
        if port is not None and port.multiple:
            inputs.setdefault(wire.target_port, []).append(value)
        else:
            inputs[wire.target_port] = value
    if node.inbound and delivered == 0:
        return {}, "skipped", None
    for port in node.node_type.inputs:
        if port.required and port.name not in inputs:
            return {}, "skipped", None
    return inputs, None, None


async def _run_node(
    node: PlanNode, spec: RunSpec, recorder: Recorder, results: Mapping[str, NodeResult]
) -> NodeResult:
    inputs, skip, why = _gather_inputs(node, results)
    if skip is not None:
        now = _now()
        return NodeResult(node.id, "skipped", started_at=None, finished_at=now, error=why)
    started = _now()
    key = cache_key(node, inputs, run_inputs=spec.inputs, payload=spec.payload)
    reuse_only = node.processing.cachingStrategy in spec.skip_strategies
    if key is not None and (reuse_only or (cacheable(node) and not spec.force)):
        hit = await recorder.lookup(node, key)
        if hit is not None:
            return NodeResult(
                node.id,
                "succeeded",
                outputs=hit.outputs,
                cached=True,
                started_at=started,
                finished_at=_now(),
                compute_time=hit.compute_time,
                cache_key=key,
                output_bytes=hit.output_bytes,
            )
    if reuse_only:
        return NodeResult(
            node.id,
            "skipped",
            finished_at=_now(),
            error={
                "code": "not_computed",
                "message": f"{node.processing.cachingStrategy} nodes are computed by schedules.",
            },
        )
    recorder.started(node.id, started)
    context = NodeContext(
        run_id=spec.run_id,
        node_id=node.id,
        flow_id=spec.flow_id,
        organization_id=spec.organization_id,
        run_inputs=spec.inputs,
        payload=spec.payload,
        allow_private_addresses=spec.allow_private_addresses,
    )
    timeout = node.processing.timeoutSeconds or node.node_type.timeout_seconds or spec.node_timeout
    begin = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            produced = node.node_type.process(node.config, inputs, context)
            if inspect.isawaitable(produced):
                produced = await produced
        outputs = _check_outputs(node, produced)
        data = orjson.dumps(outputs)
        if len(data) > spec.max_output_bytes:
            raise NodeFailure(
                f"The output is {len(data)} bytes, more than {spec.max_output_bytes}.",
                "output_too_large",
            )
    except TimeoutError:
        return _failed(node, started, begin, "timeout", f"No result within {timeout} s.")
    except NodeFailure as exc:
        return _failed(node, started, begin, exc.code, str(exc))
    except (orjson.JSONEncodeError, TypeError) as exc:
        return _failed(node, started, begin, "invalid_output", f"Not JSON: {exc}")
    except Exception as exc:  # noqa: BLE001 - a broken node type fails its node, never the worker
        log.info("node %s (%s) raised %s", node.id, node.node_type.type, type(exc).__name__)
        return _failed(node, started, begin, "node_error", f"{type(exc).__name__}: {exc}")
    return NodeResult(
        node.id,
        "succeeded",
        outputs=outputs,
        started_at=started,
        finished_at=_now(),
        compute_time=round((time.perf_counter() - begin) * 1000, 3),
        cache_key=key,
        output_bytes=data,
    )


def _check_outputs(node: PlanNode, produced: Any) -> dict[str, Any]:
    if not isinstance(produced, Mapping):
        raise NodeFailure("The node type returned no outputs object.", "invalid_output")
    names = {p.name for p in node.node_type.outputs}
    unknown = [k for k in produced if k not in names]
    if unknown:
        raise NodeFailure(f"Unknown outputs {unknown}.", "invalid_output")
    return dict(produced)


def _failed(node: PlanNode, started: int, begin: float, code: str, message: str) -> NodeResult:
    return NodeResult(
        node.id,
        "failed",
        started_at=started,
        finished_at=_now(),
        compute_time=round((time.perf_counter() - begin) * 1000, 3),
        error={"code": code, "message": message, "nodeId": node.id},
    )
