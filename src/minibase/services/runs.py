"""Runs of flows: starting (validated, queued), reading, listing and canceling them.

A run is created in one transaction with its node rows, its queue row and its audit
event; a worker (``services/run_worker.py``) executes it. ``spec`` keeps what the run
executes (the nodes and edges it needs, inputs, trigger payload, options), so a run
never depends on the flow changing after it started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, func

from minibase.domain.events import Event, EventKind
from minibase.domain.flow_graph import check_allowed_types
from minibase.engine.plan import Plan, PlanError, build_plan, needed_nodes
from minibase.engine.registry import NodeRegistry
from minibase.errors import Conflict, NotFound, QuotaExceeded, ValidationFailed
from minibase.ids import new_id, now_ms
from minibase.logs import REQUEST_ID
from minibase.services import audit, flow_history, flows
from minibase.services.audit import RequestMeta
from minibase.services.flow_changes import author_id
from minibase.services.orgs import load_org
from minibase.services.pagination import keyset, page
from minibase.services.run_limits import run_limits
from minibase.services.usage import limits_of
from minibase.store import analytics_rollups, run_queue
from minibase.store.tables import run_nodes, runs
from minibase.store.unit_of_work import TenantUnitOfWork, prepared, scoped_insert

_INSERT_NODE = prepared(scoped_insert(run_nodes))

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "canceled", "timed_out")
FINAL_RUN = frozenset({"succeeded", "failed", "canceled", "timed_out"})
TRIGGERS = ("manual", "schedule", "webhook", "change")
RUNS_KIND = EventKind.RUNS
"""Event kind of every run change (ids: flow id, run id)."""


@dataclass(frozen=True, slots=True)
class Trigger:
    type: str
    id: str | None = None
    payload: Any = None
    dedupe_key: str | None = None
    """Unique per org: a second start with the same key returns the first run."""


MANUAL = Trigger("manual")


@dataclass(frozen=True, slots=True)
class RunRequest:
    inputs: dict[str, Any]
    nodes: list[str] | None
    version: int | None
    force: bool
    timeout_seconds: float | None


def _invalid(field: str, message: str, kind: str) -> ValidationFailed:
    return ValidationFailed([{"field": field, "message": message, "type": kind}])


def parse_request(body: Mapping[str, Any]) -> RunRequest:
    """``{inputs?, nodes?, version?, force?, timeoutSeconds?}``, checked (422 otherwise)."""
    inputs = body.get("inputs", {})
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise _invalid("inputs", "An object.", "dict_type")
    nodes = body.get("nodes")
    if nodes is not None and (
        not isinstance(nodes, list)
        or not nodes
        or not all(isinstance(n, str) and 0 < len(n) <= 256 for n in nodes)
    ):
        raise _invalid("nodes", "A non-empty list of node ids.", "list_type")
    version = body.get("version")
    if version is not None and (
        not isinstance(version, int) or isinstance(version, bool) or version < 1
    ):
        raise _invalid("version", "A version number (1 or more).", "int_type")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise _invalid("force", "true or false.", "bool_type")
    timeout = body.get("timeoutSeconds")
    if timeout is not None and (
        not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0
    ):
        raise _invalid("timeoutSeconds", "A positive number of seconds.", "float_type")
    return RunRequest(inputs, nodes, version, force, float(timeout) if timeout else None)


def _node_json(row: Any) -> dict[str, Any]:
    return {
        "nodeId": row.node_id,
        "type": row.type,
        "status": row.status,
        "cached": bool(row.cached),
        "startedAt": row.started_at,
        "finishedAt": row.finished_at,
        "computeTime": row.compute_time,
        "outputId": row.output_id,
        "error": row.error,
    }


def run_json(row: Any, node_rows: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "organizationId": row.organization_id,
        "flowId": row.flow_id,
        "flowVersion": row.flow_version,
        "status": row.status,
        "trigger": {"type": row.trigger_type, "id": row.trigger_id},
        "createdBy": row.created_by,
        "createdAt": row.created_at,
        "startedAt": row.started_at,
        "finishedAt": row.finished_at,
        "error": row.error,
        "cancelRequested": bool(row.cancel_requested),
        "computeTime": row.compute_ms,
        "nodes": [_node_json(n) for n in node_rows],
    }


def check_plan(
    nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]], registry: NodeRegistry
) -> Plan:
    try:
        return build_plan(nodes, edges, registry)
    except PlanError as exc:
        raise ValidationFailed(exc.fields, "The flow cannot run.") from None


def select_document(
    doc: Mapping[str, Any], wanted: Sequence[str] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The nodes and edges a run needs: everything, or ``wanted`` and what feeds them."""
    nodes = [n for n in doc.get("nodes") or [] if isinstance(n, dict)]
    edges = [e for e in doc.get("edges") or [] if isinstance(e, dict)]
    if wanted is None:
        return nodes, edges
    known = {str(n.get("id")) for n in nodes}
    missing = [w for w in wanted if w not in known]
    if missing:
        raise _invalid("nodes", f"No such nodes: {', '.join(missing[:20])}.", "missing_node")
    keep = needed_nodes(nodes, edges, wanted)
    return (
        [n for n in nodes if str(n.get("id")) in keep],
        [e for e in edges if str(e.get("source")) in keep and str(e.get("target")) in keep],
    )


async def _existing(uow: TenantUnitOfWork, dedupe_key: str) -> dict[str, Any] | None:
    row = (await uow.execute(uow.select(runs).where(runs.c.dedupe_key == dedupe_key))).first()
    return None if row is None else await _render(uow, row)


async def start_run(
    uow: TenantUnitOfWork,
    registry: NodeRegistry,
    flow_id: str,
    request: RunRequest,
    *,
    trigger: Trigger = MANUAL,
    meta: RequestMeta = audit.NO_META,
    doc: Mapping[str, Any] | None = None,
    flow_version: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """Validate and queue a run (in ``uow``'s write transaction). Returns the run and
    whether it is new (``False``: ``trigger.dedupe_key`` named an earlier run)."""
    if trigger.dedupe_key is not None:
        earlier = await _existing(uow, trigger.dedupe_key)
        if earlier is not None:
            return earlier, False
    if doc is None:
        current = await flows.get_flow_in(uow, flow_id)
        flow_version = current.version
        if request.version is not None and request.version != current.version:
            if request.version > current.version:
                raise NotFound("No such version.")
            doc = await flow_history.document_at(uow, flow_id, request.version)
            flow_version = request.version
        else:
            doc = orjson.loads(current.body)
    assert doc is not None and flow_version is not None
    nodes, edges = select_document(doc, request.nodes)
    plan = check_plan(nodes, edges, registry)
    org = await load_org(uow, for_update=True)
    limits = limits_of(org)
    if limits.allowed_node_types is not None:
        check_allowed_types(nodes, list(limits.allowed_node_types))
    now = now_ms()
    plan_limits = run_limits(org.plan)
    if plan_limits.per_minute is not None:
        recent = (
            await uow.execute(
                uow.select(runs, func.count()).where(runs.c.created_at > now - 60_000)
            )
        ).scalar_one()
        if recent >= plan_limits.per_minute:
            raise QuotaExceeded(
                "runsPerMinute", limit=plan_limits.per_minute, used=recent, requested=1
            )
    if limits.storage_quota is not None and org.storage_used >= limits.storage_quota:
        raise QuotaExceeded(
            "storageQuota", limit=limits.storage_quota, used=org.storage_used, requested=1
        )
    run_id = new_id("run")
    spec = {
        "nodes": nodes,
        "edges": edges,
        "inputs": request.inputs,
        "payload": trigger.payload,
        "force": request.force,
        "timeoutSeconds": request.timeout_seconds,
        # The worker's log lines about this run carry the id of the request that queued it.
        "requestId": REQUEST_ID.get(),
    }
    await uow.execute(
        uow.insert(
            runs,
            id=run_id,
            flow_id=flow_id,
            flow_version=flow_version,
            status="queued",
            trigger_type=trigger.type,
            trigger_id=trigger.id,
            dedupe_key=trigger.dedupe_key,
            created_by=author_id(uow.principal),
            created_at=now,
            started_at=None,
            finished_at=None,
            error=None,
            spec=(await uow.sealer()).seal(runs.c.spec, run_id, orjson.dumps(spec)),
            cancel_requested=False,
            attempts=0,
            compute_ms=0.0,
        )
    )
    rows = [
        {
            "run_id": run_id,
            "node_id": node_id,
            "position": position,
            "type": node.node_type.type,
            "status": "pending",
            "cached": False,
        }
        for position, (node_id, node) in enumerate(plan.nodes.items())
    ]
    if rows:
        await uow.execute(_INSERT_NODE, rows)
    await analytics_rollups.add_run_created(
        uow, flow_id, now, [(node_id, node.node_type.type) for node_id, node in plan.nodes.items()]
    )
    await run_queue.enqueue(uow, run_id, uow.org_id, now=now, max_concurrent=plan_limits.concurrent)
    await audit.record(
        uow,
        "run.create",
        "run",
        run_id,
        meta=meta,
        details={"flowId": flow_id, "trigger": trigger.type, "nodes": len(rows)},
    )
    uow.emit(Event(uow.org_id, RUNS_KIND, (flow_id, run_id), extra={"queued": True}))
    return await get_run(uow, run_id), True


async def _render(uow: TenantUnitOfWork, row: Any) -> dict[str, Any]:
    nodes = (
        await uow.execute(
            uow.select(run_nodes).where(run_nodes.c.run_id == row.id).order_by(run_nodes.c.position)
        )
    ).all()
    return run_json(row, nodes)


async def get_run(uow: TenantUnitOfWork, run_id: str) -> dict[str, Any]:
    row = (await uow.execute(uow.select(runs).where(runs.c.id == run_id))).first()
    if row is None:
        raise NotFound("No such run.")
    return await _render(uow, row)


async def list_runs(
    uow: TenantUnitOfWork,
    *,
    flow_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """Runs of the org (or of one flow), newest first."""
    if status is not None and status not in RUN_STATUSES:
        raise _invalid("status", f"One of {', '.join(RUN_STATUSES)}.", "enum")
    conditions = []
    if flow_id is not None:
        conditions.append(runs.c.flow_id == flow_id)
    if status is not None:
        conditions.append(runs.c.status == status)
    base = uow.select(runs)
    if conditions:
        base = base.where(and_(*conditions))
    stmt = keyset(base, [runs.c.created_at, runs.c.id], cursor, limit, descending=True)
    rows = (await uow.execute(stmt)).all()
    shown = rows[:limit]
    by_run: dict[str, list[Any]] = {r.id: [] for r in shown}
    if shown:
        node_rows = (
            await uow.execute(
                uow.select(run_nodes)
                .where(run_nodes.c.run_id.in_(list(by_run)))
                .order_by(run_nodes.c.run_id, run_nodes.c.position)
            )
        ).all()
        for node in node_rows:
            by_run[node.run_id].append(node)
    return page(
        rows,
        limit,
        render=lambda r: run_json(r, by_run.get(r.id, [])),
        key=lambda r: [r.created_at, r.id],
    )


async def cancel_run(uow: TenantUnitOfWork, run_id: str, meta: RequestMeta) -> dict[str, Any]:
    """Cancel a run: a queued one at once; a running one when its worker next checks
    (within a third of the lease). 409 when it has already finished."""
    row = (await uow.execute(uow.select(runs).where(runs.c.id == run_id).with_for_update())).first()
    if row is None:
        raise NotFound("No such run.")
    if row.status in FINAL_RUN:
        raise Conflict(f"The run has already finished ({row.status}).")
    now = now_ms()
    if row.status == "queued":
        await finish_canceled(uow, row.id, now)
        await run_queue.release(uow, row.id)
    else:
        await uow.execute(uow.update(runs).where(runs.c.id == run_id).values(cancel_requested=True))
    await audit.record(uow, "run.cancel", "run", run_id, meta=meta, details={"flowId": row.flow_id})
    uow.emit(Event(uow.org_id, RUNS_KIND, (row.flow_id, run_id), extra={"cancel": True}))
    return await get_run(uow, run_id)


async def finish_canceled(uow: TenantUnitOfWork, run_id: str, now: int) -> None:
    """Mark a run that no worker is executing, and its open nodes, canceled."""
    error = {"code": "canceled", "message": "The run was canceled."}
    await uow.execute(
        uow.update(runs)
        .where(runs.c.id == run_id)
        .values(status="canceled", finished_at=now, error=error, cancel_requested=True)
    )
    await uow.execute(
        uow.update(run_nodes)
        .where(
            run_nodes.c.run_id == run_id,
            run_nodes.c.status.in_(("pending", "running")),
        )
        .values(status="canceled", finished_at=now)
    )
    row = (
        await uow.execute(
            uow.select(runs, runs.c.flow_id, runs.c.created_at, runs.c.started_at).where(
                runs.c.id == run_id
            )
        )
    ).first()
    if row is not None:
        await analytics_rollups.add_run_finished(
            uow, row.flow_id, row.created_at, "canceled", row.started_at, now
        )
