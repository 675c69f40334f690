"""Runs: ``POST .../flows/{flowId}/runs``, ``GET .../runs``, ``GET .../runs/{runId}``,
``POST .../runs/{runId}/cancel``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.shapes import IN_ORG, WRITE, errors
from minibase.context import AppContext
from minibase.domain.roles import Action
from minibase.http.body import json_schema_body, parse_json_object, read_json_bytes
from minibase.http.responses import json_response
from minibase.services import runs
from minibase.services.engine_host import EngineHost

router = APIRouter(prefix="/v1/orgs/{orgId}", tags=["runs"], responses=IN_ORG)

Reader = Annotated[OrgAccess, Depends(Require(Action.FLOWS_READ))]
Runner = Annotated[OrgAccess, Depends(Require(Action.RUNS_EXECUTE))]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]

_START = {
    "type": "object",
    "properties": {
        "inputs": {"type": "object", "description": "Values read by `input` nodes."},
        "nodes": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Run only these nodes and what they need.",
        },
        "version": {"type": "integer", "description": "Run this version of the flow."},
        "force": {"type": "boolean", "description": "Ignore cached results."},
        "timeoutSeconds": {"type": "number", "description": "Time limit of this run."},
    },
}


def engine_of(ctx: AppContext) -> EngineHost:
    assert ctx.engine is not None
    return ctx.engine


async def _optional_body(request: Request) -> dict[str, Any]:
    if not await request.body() and not request.headers.get("content-type"):
        return {}
    return parse_json_object(await read_json_bytes(request))


@router.post(
    "/flows/{flowId}/runs",
    status_code=202,
    summary="Start a run of the flow (queued; 422 when the flow cannot run)",
    openapi_extra=json_schema_body(_START),
    responses=WRITE,
)
async def start_run(request: Request, flowId: str, access: Runner) -> Response:
    ctx = app_context(request)
    body = runs.parse_request(await _optional_body(request))
    async with ctx.store.tenant(access.org_id, access.principal, write=True) as uow:
        run, _ = await runs.start_run(uow, engine_of(ctx).registry, flowId, body, meta=access.meta)
    return json_response(run, status_code=202)


@router.get("/runs", summary="List runs, newest first (?flowId=, ?status=)")
async def list_runs(
    request: Request,
    access: Reader,
    flowId: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    async with app_context(request).store.tenant(access.org_id, access.principal) as uow:
        return json_response(
            await runs.list_runs(uow, flow_id=flowId, status=status, limit=limit, cursor=cursor)
        )


@router.get("/runs/{runId}", summary="A run and the state of each of its nodes")
async def get_run(request: Request, runId: str, access: Reader) -> Response:
    async with app_context(request).store.tenant(access.org_id, access.principal) as uow:
        return json_response(await runs.get_run(uow, runId))


@router.post(
    "/runs/{runId}/cancel",
    status_code=202,
    summary="Cancel a run (409 when it has already finished)",
    responses=errors(409),
)
async def cancel_run(request: Request, runId: str, access: Runner) -> Response:
    store = app_context(request).store
    async with store.tenant(access.org_id, access.principal, write=True) as uow:
        run = await runs.cancel_run(uow, runId, access.meta)
    return json_response(run, status_code=202)
