"""``/v1/orgs/{orgId}/flows``: flows, their version history and their node outputs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from minibase.api.deps import OrgAccess, app_context, require
from minibase.domain.principal import SYSTEM
from minibase.domain.roles import Action
from minibase.errors import PreconditionRequired, ValidationFailed
from minibase.http.body import (
    json_schema_body,
    parse_json_object,
    read_json_bytes,
    read_json_object,
)
from minibase.http.responses import JSONBytes, json_response
from minibase.services import flow_history, flows, outputs
from minibase.services.usage import limits_of, warning_header
from minibase.store.hot_cache import CachedFlow

router = APIRouter(prefix="/v1/orgs/{orgId}/flows", tags=["flows"])

Reader = Annotated[OrgAccess, Depends(require(Action.FLOWS_READ))]
Writer = Annotated[OrgAccess, Depends(require(Action.FLOWS_WRITE))]
OutputReader = Annotated[OrgAccess, Depends(require(Action.OUTPUTS_READ))]
OutputWriter = Annotated[OrgAccess, Depends(require(Action.OUTPUTS_WRITE))]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]

_NODE = {
    "type": "object",
    "required": ["id", "type", "position"],
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "position": {"type": "object"},
        "data": {"type": "object"},
    },
}
_EDGE = {
    "type": "object",
    "required": ["id", "source", "target"],
    "properties": {
        "id": {"type": "string"},
        "source": {"type": "string"},
        "target": {"type": "string"},
    },
}
_CREATE = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "nodes": {"type": "array", "items": _NODE},
        "edges": {"type": "array", "items": _EDGE},
    },
}
_PUT = {
    "type": "object",
    "required": ["nodes", "edges", "baseVersion"],
    "properties": {
        "name": {"type": "string"},
        "nodes": {"type": "array", "items": _NODE},
        "edges": {"type": "array", "items": _EDGE},
        "baseVersion": {"type": "integer"},
    },
}
_PATCH = {
    "type": "object",
    "required": ["ops"],
    "properties": {"ops": {"type": "array", "items": {"type": "object"}}},
}
_OUTPUT = {
    "type": "object",
    "required": ["nodeId", "output", "computeTime"],
    "properties": {"nodeId": {"type": "string"}, "output": {}, "computeTime": {"type": "number"}},
}


def _flow_response(result: flows.FlowResult, status_code: int = 200) -> Response:
    headers = {"ETag": f'"{result.version}"'}
    if result.org is not None and result.usage is not None:
        warning = warning_header(result.usage, limits_of(result.org))
        if warning:
            headers["X-Quota-Warning"] = warning
    return JSONBytes(result.body, status_code=status_code, headers=headers)


@router.get("", summary="List flows (or the trash with ?deleted=true)")
async def list_flows(
    request: Request,
    access: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
    deleted: bool = False,
) -> Response:
    store = app_context(request).store
    if deleted:
        async with store.tenant(access.org_id, SYSTEM, write=True) as uow:
            await flows.purge_trash(uow)
    async with store.tenant(access.org_id, access.principal) as uow:
        return json_response(
            await flows.list_flows(uow, limit=limit, cursor=cursor, deleted=deleted)
        )


@router.post(
    "",
    status_code=201,
    summary="Create a flow (version 1)",
    openapi_extra=json_schema_body(_CREATE),
)
async def create_flow(request: Request, access: Writer) -> Response:
    ctx = app_context(request)
    body = await read_json_object(request)
    async with ctx.store.tenant(access.org_id, access.principal, write=True) as uow:
        result = await flows.create_flow(uow, ctx.settings, body, access.meta)
    return _flow_response(result, 201)


@router.get("/{flowId}", summary="One flow, with ETag: its version")
async def get_flow(request: Request, access: Reader, flowId: str) -> Response:
    store = app_context(request).store
    key = (access.org_id, flowId)
    cached = store.cache.flows.get(key)
    if cached is None:
        epoch = store.cache.flows.epoch
        async with store.tenant(access.org_id, access.principal) as uow:
            result = await flows.get_flow(uow, flowId)
        cached = CachedFlow(result.body, result.version)
        store.cache.flows.put(key, epoch, cached)
    return JSONBytes(cached.body, headers={"ETag": f'"{cached.version}"'})


def _base_version(body: dict[str, Any]) -> int:
    if "baseVersion" not in body or body["baseVersion"] is None:
        raise PreconditionRequired("A flow PUT needs `baseVersion` (the version it edits).")
    base = body["baseVersion"]
    if not isinstance(base, int) or isinstance(base, bool):
        raise ValidationFailed(
            [{"field": "baseVersion", "message": "Must be an integer.", "type": "int_type"}]
        )
    return base


@router.put(
    "/{flowId}",
    summary="Save a flow; a stale baseVersion is merged three ways",
    openapi_extra=json_schema_body(_PUT),
)
async def save_flow(request: Request, access: Writer, flowId: str) -> Response:
    ctx = app_context(request)
    raw = await read_json_bytes(request)
    cache = ctx.store.cache
    # Most of a save is what the server holds already: read only what changed.
    read = flows.read_against_cache(cache, access.org_id, flowId, raw)
    body = read.body if read is not None else parse_json_object(raw)
    base = _base_version(body)
    for key in ("nodes", "edges"):
        if key not in body:
            raise ValidationFailed(
                [{"field": key, "message": "Field required.", "type": "missing"}]
            )
    save = flows.validate_save(
        ctx.settings,
        cache,
        access.org_id,
        flowId,
        {k: body[k] for k in ("name", "nodes", "edges") if k in body},
        base,
        read=read,
    )
    result = await ctx.saves.save(
        access.org_id, flowId, flows.SaveJob(save, access.principal, access.meta)
    )
    return _flow_response(result)


@router.patch(
    "/{flowId}", summary="Apply operations atomically", openapi_extra=json_schema_body(_PATCH)
)
async def patch_flow(request: Request, access: Writer, flowId: str) -> Response:
    ctx = app_context(request)
    body = await read_json_object(request)
    async with ctx.store.tenant(access.org_id, access.principal, write=True) as uow:
        result = await flows.patch_flow(uow, ctx.settings, flowId, body.get("ops"), access.meta)
    return _flow_response(result)


@router.delete(
    "/{flowId}", status_code=204, summary="Move a flow to the trash (restorable for 30 days)"
)
async def delete_flow(request: Request, access: Writer, flowId: str) -> Response:
    async with app_context(request).store.tenant(
        access.org_id, access.principal, write=True
    ) as uow:
        await flows.delete_flow(uow, flowId, access.meta)
    return Response(status_code=204)


@router.post("/{flowId}/restore", summary="Bring a flow back from the trash")
async def restore_flow(request: Request, access: Writer, flowId: str) -> Response:
    async with app_context(request).store.tenant(
        access.org_id, access.principal, write=True
    ) as uow:
        return _flow_response(await flows.restore_flow(uow, flowId, access.meta))


# --- version history ---------------------------------------------------------------------


@router.get("/{flowId}/versions", summary="Version history, newest first")
async def list_versions(
    request: Request,
    access: Reader,
    flowId: str,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    async with app_context(request).store.tenant(access.org_id, access.principal) as uow:
        await flows.get_flow(uow, flowId)
        return json_response(
            await flow_history.list_versions(uow, flowId, limit=limit, cursor=cursor)
        )


@router.get("/{flowId}/versions/{version}", summary="The flow as it was at a version")
async def get_version(
    request: Request,
    access: Reader,
    flowId: str,
    version: int,
) -> Response:
    async with app_context(request).store.tenant(access.org_id, access.principal) as uow:
        current = await flows.get_flow(uow, flowId)
        doc = await flow_history.document_at(uow, flowId, version)
        row = await flow_history.version_row(uow, flowId, version)
    return json_response(flows.version_view(current.body, doc, row))


@router.get("/{flowId}/versions/{a}/diff/{b}", summary="What changed between two versions")
async def diff_versions(
    request: Request,
    access: Reader,
    flowId: str,
    a: int,
    b: int,
) -> Response:
    async with app_context(request).store.tenant(access.org_id, access.principal) as uow:
        await flows.get_flow(uow, flowId)
        return json_response(await flow_history.diff_versions(uow, flowId, a, b))


@router.post("/{flowId}/versions/{version}/restore", summary="Make an old version the newest one")
async def restore_version(
    request: Request,
    access: Writer,
    flowId: str,
    version: int,
) -> Response:
    async with app_context(request).store.tenant(
        access.org_id, access.principal, write=True
    ) as uow:
        return _flow_response(await flows.restore_version(uow, flowId, version, access.meta))


# --- node outputs ------------------------------------------------------------------------


@router.post(
    "/{flowId}/outputs",
    status_code=201,
    summary="Store a node's output",
    openapi_extra=json_schema_body(_OUTPUT),
)
async def write_output(
    request: Request,
    access: OutputWriter,
    flowId: str,
) -> Response:
    body = await read_json_object(request)
    node_id, compute_time = body.get("nodeId"), body.get("computeTime")
    errors = []
    if not isinstance(node_id, str) or not 1 <= len(node_id) <= 256:
        errors.append(
            {
                "field": "nodeId",
                "message": "A string of 1 to 256 characters.",
                "type": "string_type",
            }
        )
    if (
        not isinstance(compute_time, int | float)
        or isinstance(compute_time, bool)
        or compute_time < 0
        or compute_time != compute_time
    ):
        errors.append(
            {
                "field": "computeTime",
                "message": "A non-negative number (ms).",
                "type": "number_type",
            }
        )
    if "output" not in body:
        errors.append({"field": "output", "message": "Field required.", "type": "missing"})
    if errors:
        raise ValidationFailed(errors)
    assert isinstance(node_id, str) and isinstance(compute_time, int | float)
    async with app_context(request).store.tenant(
        access.org_id, access.principal, write=True
    ) as uow:
        output, usage, org = await outputs.write_output(
            uow, flowId, node_id, body["output"], compute_time, access.meta
        )
    headers = {}
    warning = warning_header(usage, limits_of(org))
    if warning:
        headers["X-Quota-Warning"] = warning
    return json_response(output, status_code=201, headers=headers)


@router.get("/{flowId}/outputs", summary="Outputs of a flow, newest first")
async def list_outputs(
    request: Request,
    access: OutputReader,
    flowId: str,
    nodeId: Annotated[str | None, Query(max_length=256)] = None,
    latest: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    async with app_context(request).store.tenant(access.org_id, access.principal) as uow:
        return json_response(
            await outputs.list_outputs(
                uow, flowId, node_id=nodeId, latest=latest, limit=limit, cursor=cursor
            )
        )
