"""``/v1/orgs/{orgId}/flows``: flows, their version history and their node outputs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.schemas import VersionNumber
from minibase.api.shapes import IN_ORG, WRITE, Flow, FlowPage, answers, errors
from minibase.domain.roles import Action
from minibase.errors import ValidationFailed
from minibase.http.body import json_schema_body, read_json_bytes, read_json_object
from minibase.http.responses import JSONBytes, json_response
from minibase.services import flows, outputs
from minibase.services.flow_render import FlowResult
from minibase.services.usage import limits_of, warning_header

router = APIRouter(prefix="/v1/orgs/{orgId}/flows", tags=["flows"], responses=IN_ORG)

Reader = Annotated[OrgAccess, Depends(Require(Action.FLOWS_READ))]
Writer = Annotated[OrgAccess, Depends(Require(Action.FLOWS_WRITE))]
OutputReader = Annotated[OrgAccess, Depends(Require(Action.OUTPUTS_READ))]
OutputWriter = Annotated[OrgAccess, Depends(Require(Action.OUTPUTS_WRITE))]
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


def _op(kind: str, description: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "title": kind,
        "description": description,
        "required": ["op", *fields],
        "properties": {"op": {"type": "string", "enum": [kind]}, **fields},
    }


_ID = {"type": "string", "minLength": 1, "maxLength": 256}
_OPS = [
    _op("addNode", "Add a node (its id must be new).", {"node": _NODE}),
    _op(
        "updateNode",
        "Replace the given top-level fields of a node (its `id` cannot change).",
        {"id": _ID, "set": {"type": "object"}},
    ),
    _op("removeNode", "Remove a node and the edges that touch it.", {"id": _ID}),
    _op("addEdge", "Add an edge between two nodes of the flow.", {"edge": _EDGE}),
    _op("removeEdge", "Remove an edge.", {"id": _ID}),
    _op("rename", "Rename the flow.", {"name": {"type": "string", "minLength": 1}}),
]
_PATCH = {
    "type": "object",
    "required": ["ops"],
    "properties": {
        "ops": {
            "type": "array",
            "description": "Applied in order, all or none.",
            "items": {"oneOf": _OPS},
        }
    },
}
_OUTPUT = {
    "type": "object",
    "required": ["nodeId", "output", "computeTime"],
    "properties": {"nodeId": {"type": "string"}, "output": {}, "computeTime": {"type": "number"}},
}


def _flow_response(result: FlowResult, status_code: int = 200) -> Response:
    headers = {"ETag": f'"{result.version}"'}
    if result.org is not None and result.usage is not None:
        warning = warning_header(result.usage, limits_of(result.org))
        if warning:
            headers["X-Quota-Warning"] = warning
    return JSONBytes(result.body, status_code=status_code, headers=headers)


@router.get("", summary="List flows (or the trash with ?deleted=true)", responses=answers(FlowPage))
async def list_flows(
    request: Request,
    access: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
    deleted: bool = False,
) -> Response:
    page = await flows.list_flows(
        app_context(request).store,
        access.org_id,
        access.principal,
        limit=limit,
        cursor=cursor,
        deleted=deleted,
    )
    return json_response(page)


@router.post(
    "",
    status_code=201,
    summary="Create a flow (version 1)",
    openapi_extra=json_schema_body(_CREATE),
    responses={**answers(Flow, 201), **WRITE},
)
async def create_flow(request: Request, access: Writer) -> Response:
    ctx = app_context(request)
    body = await read_json_object(request)
    result = await flows.create_flow(
        ctx.store, ctx.settings, access.org_id, access.principal, body, access.meta
    )
    return _flow_response(result, 201)


@router.get("/{flowId}", summary="One flow, with ETag: its version", responses=answers(Flow))
async def get_flow(request: Request, access: Reader, flowId: str) -> Response:
    flow = await flows.read_flow(
        app_context(request).store, access.org_id, access.principal, flowId
    )
    return JSONBytes(flow.body, headers={"ETag": f'"{flow.version}"'})


@router.put(
    "/{flowId}",
    summary="Save a flow; a stale baseVersion is merged three ways",
    openapi_extra=json_schema_body(_PUT),
    responses={**answers(Flow), **errors(428), **WRITE},
)
async def save_flow(request: Request, access: Writer, flowId: str) -> Response:
    ctx = app_context(request)
    raw = await read_json_bytes(request)
    result = await ctx.saves.put(access.org_id, access.principal, flowId, raw, access.meta)
    return _flow_response(result)


@router.patch(
    "/{flowId}",
    summary="Apply operations atomically",
    openapi_extra=json_schema_body(_PATCH),
    responses={**answers(Flow), **WRITE},
)
async def patch_flow(request: Request, access: Writer, flowId: str) -> Response:
    ctx = app_context(request)
    body = await read_json_object(request)
    result = await flows.patch_flow(
        ctx.store,
        ctx.settings,
        access.org_id,
        access.principal,
        flowId,
        body.get("ops"),
        access.meta,
    )
    return _flow_response(result)


@router.delete(
    "/{flowId}", status_code=204, summary="Move a flow to the trash (restorable for 30 days)"
)
async def delete_flow(request: Request, access: Writer, flowId: str) -> Response:
    await flows.delete_flow(
        app_context(request).store, access.org_id, access.principal, flowId, access.meta
    )
    return Response(status_code=204)


@router.post(
    "/{flowId}/restore",
    summary="Bring a flow back from the trash",
    responses={**answers(Flow), **errors(403, 409)},
)
async def restore_flow(request: Request, access: Writer, flowId: str) -> Response:
    result = await flows.restore_flow(
        app_context(request).store, access.org_id, access.principal, flowId, access.meta
    )
    return _flow_response(result)


# --- version history ---------------------------------------------------------------------


@router.get("/{flowId}/versions", summary="Version history, newest first")
async def list_versions(
    request: Request,
    access: Reader,
    flowId: str,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    page = await flows.list_versions(
        app_context(request).store,
        access.org_id,
        access.principal,
        flowId,
        limit=limit,
        cursor=cursor,
    )
    return json_response(page)


@router.get("/{flowId}/versions/{version}", summary="The flow as it was at a version")
async def get_version(
    request: Request,
    access: Reader,
    flowId: str,
    version: VersionNumber,
) -> Response:
    view = await flows.get_version(
        app_context(request).store, access.org_id, access.principal, flowId, version
    )
    return json_response(view)


@router.get("/{flowId}/versions/{a}/diff/{b}", summary="What changed between two versions")
async def diff_versions(
    request: Request,
    access: Reader,
    flowId: str,
    a: VersionNumber,
    b: VersionNumber,
) -> Response:
    diff = await flows.diff_versions(
        app_context(request).store, access.org_id, access.principal, flowId, a, b
    )
    return json_response(diff)


@router.post(
    "/{flowId}/versions/{version}/restore",
    summary="Make an old version the newest one",
    responses={**answers(Flow), **errors(403, 409)},
)
async def restore_version(
    request: Request,
    access: Writer,
    flowId: str,
    version: VersionNumber,
) -> Response:
    result = await flows.restore_version(
        app_context(request).store, access.org_id, access.principal, flowId, version, access.meta
    )
    return _flow_response(result)


# --- node outputs ------------------------------------------------------------------------


@router.post(
    "/{flowId}/outputs",
    status_code=201,
    summary="Store a node's output",
    openapi_extra=json_schema_body(_OUTPUT),
    responses=WRITE,
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
    output, usage, org = await outputs.write_output(
        app_context(request).store,
        access.org_id,
        access.principal,
        flowId,
        node_id,
        body["output"],
        compute_time,
        access.meta,
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
    page = await outputs.list_outputs(
        app_context(request).store,
        access.org_id,
        access.principal,
        flowId,
        node_id=nodeId,
        latest=latest,
        limit=limit,
        cursor=cursor,
    )
    return json_response(page)
