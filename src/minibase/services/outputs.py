"""Node outputs: every computation result with its compute time, stored and listed."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import and_, func, select

from minibase.domain.events import Event, EventKind
from minibase.domain.principal import Principal
from minibase.errors import NotFound
from minibase.ids import new_id, now_ms
from minibase.services import audit
from minibase.services.audit import RequestMeta
from minibase.services.pagination import keyset, page
from minibase.services.usage import Usage, charge
from minibase.store import analytics_rollups
from minibase.store.tables import flows, node_outputs
from minibase.store.unit_of_work import Store, TenantUnitOfWork


def output_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "organizationId": row.organization_id,
        "flowId": row.flow_id,
        "nodeId": row.node_id,
        "output": orjson.loads(row.output),
        "timestamp": row.timestamp,
        "computeTime": row.compute_time,
        "runId": row.run_id,
        "cached": bool(row.cached),
    }


async def _require_flow(uow: TenantUnitOfWork, flow_id: str) -> None:
    found = (
        await uow.execute(
            uow.select(flows, flows.c.id).where(flows.c.id == flow_id, flows.c.deleted_at.is_(None))
        )
    ).first()
    if found is None:
        raise NotFound("No such flow.")


async def write_output(
    store: Store,
    org_id: str,
    principal: Principal,
    flow_id: str,
    node_id: str,
    output: Any,
    compute_time: float,
    meta: RequestMeta,
) -> tuple[dict[str, Any], Usage, Any]:
    """Store a node's output (quota-checked): its JSON, the usage after it, the org row."""
    async with store.tenant(org_id, principal, write=True) as uow:
        return await _write_output(uow, flow_id, node_id, output, compute_time, meta)


async def _write_output(
    uow: TenantUnitOfWork,
    flow_id: str,
    node_id: str,
    output: Any,
    compute_time: float,
    meta: RequestMeta,
) -> tuple[dict[str, Any], Usage, Any]:
    await _require_flow(uow, flow_id)
    data = orjson.dumps(output)
    usage, org = await charge(uow, storage=len(data))
    output_id = new_id("out")
    now = now_ms()
    await uow.execute(
        uow.insert(
            node_outputs,
            id=output_id,
            flow_id=flow_id,
            node_id=node_id,
            output=(await uow.sealer()).seal(node_outputs.c.output, output_id, data),
            timestamp=now,
            compute_time=compute_time,
            size_bytes=len(data),
        )
    )
    await analytics_rollups.add_outputs(uow, [(flow_id, now, len(data))])
    await audit.record(
        uow,
        "output.create",
        "output",
        output_id,
        meta=meta,
        details={"flowId": flow_id, "nodeId": node_id, "bytes": len(data)},
    )
    uow.emit(Event(uow.org_id, EventKind.OUTPUTS, (flow_id,)))
    uow.emit(Event(uow.org_id, EventKind.USAGE))
    body = {
        "id": output_id,
        "organizationId": uow.org_id,
        "flowId": flow_id,
        "nodeId": node_id,
        "output": output,
        "timestamp": now,
        "computeTime": compute_time,
        "runId": None,
        "cached": False,
    }
    return body, usage, org


async def list_outputs(
    store: Store,
    org_id: str,
    principal: Principal,
    flow_id: str,
    *,
    node_id: str | None,
    latest: bool,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """A page of a flow's outputs, newest first (see :func:`list_outputs_in`)."""
    async with store.tenant(org_id, principal) as uow:
        return await list_outputs_in(
            uow, flow_id, node_id=node_id, latest=latest, limit=limit, cursor=cursor
        )


async def list_outputs_in(
    uow: TenantUnitOfWork,
    flow_id: str,
    *,
    node_id: str | None,
    latest: bool,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """Outputs of a flow, newest first; ``latest`` keeps only the newest per node."""
    await _require_flow(uow, flow_id)
    no = node_outputs.c
    conditions = [no.organization_id == uow.org_id, no.flow_id == flow_id]
    if node_id is not None:
        conditions.append(no.node_id == node_id)
    if latest:
        ranked = (
            select(
                node_outputs,
                func.row_number()
                .over(partition_by=no.node_id, order_by=(no.timestamp.desc(), no.id.desc()))
                .label("rank"),
            )
            .where(and_(*conditions))
            .subquery()
        )
        base = select(ranked).where(ranked.c.rank == 1)
        cols = ranked.c
    else:
        base = uow.select(node_outputs).where(and_(*conditions))
        cols = no
    stmt = keyset(base, [cols.timestamp, cols.id], cursor, limit, descending=True)
    sealer = await uow.sealer()
    rows = [sealer.open_row(node_outputs, row) for row in (await uow.execute(stmt)).all()]
    return page(rows, limit, render=output_json, key=lambda r: [r.timestamp, r.id])
