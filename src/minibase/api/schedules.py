"""``/v1/orgs/{orgId}/flows/{flowId}/schedules``: cron schedules that start runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.shapes import IN_ORG, WRITE
from minibase.domain.roles import Action
from minibase.http.body import json_schema_body, read_json_object
from minibase.http.responses import json_response
from minibase.services import schedules

router = APIRouter(
    prefix="/v1/orgs/{orgId}/flows/{flowId}/schedules", tags=["runs"], responses=IN_ORG
)

Reader = Annotated[OrgAccess, Depends(Require(Action.FLOWS_READ))]
Runner = Annotated[OrgAccess, Depends(Require(Action.RUNS_EXECUTE))]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]

_FIELDS = {
    "cron": {
        "type": "string",
        "description": "Five fields (minute hour day month weekday), six with seconds last, "
        "or @hourly, @daily, @weekly, @monthly, @yearly.",
    },
    "timezone": {"type": "string", "description": "IANA time zone (default UTC)."},
    "inputs": {"type": "object", "description": "The inputs of every run it starts."},
    "enabled": {"type": "boolean"},
}
_CREATE = {"type": "object", "required": ["cron"], "properties": _FIELDS}
_PATCH = {"type": "object", "properties": _FIELDS}


@router.post(
    "",
    status_code=201,
    summary="Create a schedule (422 for a bad cron expression or time zone)",
    openapi_extra=json_schema_body(_CREATE),
    responses=WRITE,
)
async def create_schedule(request: Request, flowId: str, access: Runner) -> Response:
    body = await read_json_object(request)
    store = app_context(request).store
    async with store.tenant(access.org_id, access.principal, write=True) as uow:
        created = await schedules.create_schedule(uow, flowId, body, access.meta)
    return json_response(created, status_code=201)


@router.get("", summary="List the flow's schedules")
async def list_schedules(
    request: Request, flowId: str, access: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    async with app_context(request).store.tenant(access.org_id, access.principal) as uow:
        return json_response(
            await schedules.list_schedules(uow, flowId, limit=limit, cursor=cursor)
        )


@router.patch(
    "/{scheduleId}",
    summary="Change a schedule (cron, timezone, inputs, enabled)",
    openapi_extra=json_schema_body(_PATCH),
    responses=WRITE,
)
async def update_schedule(
    request: Request, flowId: str, scheduleId: str, access: Runner
) -> Response:
    body = await read_json_object(request)
    store = app_context(request).store
    async with store.tenant(access.org_id, access.principal, write=True) as uow:
        updated = await schedules.update_schedule(uow, flowId, scheduleId, body, access.meta)
    return json_response(updated)


@router.delete("/{scheduleId}", status_code=204, summary="Delete a schedule")
async def delete_schedule(
    request: Request, flowId: str, scheduleId: str, access: Runner
) -> Response:
    store = app_context(request).store
    async with store.tenant(access.org_id, access.principal, write=True) as uow:
        await schedules.delete_schedule(uow, flowId, scheduleId, access.meta)
    return Response(status_code=204)
