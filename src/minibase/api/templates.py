"""Templates (``/v1/orgs/{orgId}/templates``) and cross-org copy and paste of flows."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.schemas import Body
from minibase.api.shapes import IN_ORG, WRITE
from minibase.domain.roles import Action
from minibase.http.body import json_schema_body, read_json_object
from minibase.http.responses import JSONBytes, json_response
from minibase.services import flow_copy, templates

router = APIRouter(prefix="/v1/orgs/{orgId}", tags=["templates, copy and paste"], responses=IN_ORG)

Reader = Annotated[OrgAccess, Depends(Require(Action.FLOWS_READ))]
Writer = Annotated[OrgAccess, Depends(Require(Action.TEMPLATES_WRITE))]
FlowWriter = Annotated[OrgAccess, Depends(Require(Action.FLOWS_WRITE))]
TemplateId = Annotated[str, Path(alias="templateId", min_length=1, max_length=64)]
FlowId = Annotated[str, Path(alias="flowId", min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]
Id = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=500)]
Tag = Annotated[str, Field(min_length=1, max_length=50)]


class TemplateBody(Body):
    name: Name
    description: str = Field("", max_length=10_000)
    tags: list[Tag] = Field(default_factory=list, max_length=templates.MAX_TAGS)
    flowId: Id | None = None
    flow: dict[str, Any] | None = None


class InstantiateBody(Body):
    name: Name


class CopyBody(Body):
    targetOrgId: Id
    name: Name | None = None


class PasteBody(Body):
    targetFlowId: Id
    nodes: list[Any] = Field(default_factory=list)
    edges: list[Any] = Field(default_factory=list)
    targetOrgId: Id | None = None
    sourceOrgId: Id | None = None
    sourceFlowId: Id | None = None


def _flow(result: Any, status_code: int = 201) -> Response:
    return JSONBytes(result.body, status_code=status_code, headers={"ETag": f'"{result.version}"'})


@router.post(
    "/templates",
    status_code=201,
    summary="Save a template from a flow or a document",
    responses=WRITE,
)
async def create_template(body: TemplateBody, request: Request, access: Writer) -> Response:
    ctx = app_context(request)
    created = await templates.create_template(
        ctx.store,
        ctx.settings,
        access.org_id,
        access.principal,
        name=body.name,
        description=body.description,
        tags=body.tags,
        flow_id=body.flowId,
        flow=body.flow,
        meta=access.meta,
    )
    return json_response(created, status_code=201)


@router.get("/templates", summary="Templates, newest first (without documents)")
async def list_templates(
    request: Request, access: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    result = await templates.list_templates(
        app_context(request).store, access.org_id, access.principal, limit=limit, cursor=cursor
    )
    return json_response(result)


_TEMPLATE_FILE = {
    "type": "object",
    "description": "A file as `GET .../templates/{templateId}/export` wrote it.",
    "required": ["format", "formatVersion", "name"],
    "properties": {
        "format": {"type": "string", "enum": [templates.FILE_FORMAT]},
        "formatVersion": {"type": "integer", "maximum": templates.FORMAT_VERSION},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "nodes": {"type": "array", "items": {"type": "object"}},
        "edges": {"type": "array", "items": {"type": "object"}},
    },
}


@router.post(
    "/templates/import",
    status_code=201,
    summary="Import a template file (as exported)",
    openapi_extra=json_schema_body(_TEMPLATE_FILE),
    responses=WRITE,
)
async def import_template(request: Request, access: Writer) -> Response:
    ctx = app_context(request)
    file = await read_json_object(request)
    created = await templates.import_template(
        ctx.store, ctx.settings, access.org_id, access.principal, file, access.meta
    )
    return json_response(created, status_code=201)


@router.get("/templates/{templateId}", summary="One template, with its nodes and edges")
async def get_template(request: Request, template_id: TemplateId, access: Reader) -> Response:
    found = await templates.get_template(
        app_context(request).store, access.org_id, access.principal, template_id
    )
    return json_response(found)


@router.get("/templates/{templateId}/export", summary="The template as a file")
async def export_template(request: Request, template_id: TemplateId, access: Reader) -> Response:
    file = await templates.export_template(
        app_context(request).store, access.org_id, access.principal, template_id
    )
    return Response(
        orjson.dumps(file, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{template_id}.json"'},
    )


@router.delete("/templates/{templateId}", status_code=204, summary="Delete a template")
async def delete_template(request: Request, template_id: TemplateId, access: Writer) -> Response:
    await templates.delete_template(
        app_context(request).store, access.org_id, access.principal, template_id, access.meta
    )
    return Response(status_code=204)


@router.post(
    "/templates/{templateId}/instantiate",
    status_code=201,
    summary="A new flow from a template",
    responses=WRITE,
)
async def instantiate(
    body: InstantiateBody, request: Request, template_id: TemplateId, access: Writer
) -> Response:
    ctx = app_context(request)
    result = await templates.instantiate(
        ctx.store,
        ctx.settings,
        access.org_id,
        access.principal,
        template_id,
        body.name,
        access.meta,
    )
    return _flow(result)


@router.post(
    "/flows/{flowId}/copy",
    status_code=201,
    summary="Copy the flow into another org (an editor of both)",
    responses=WRITE,
)
async def copy_flow(
    body: CopyBody, request: Request, flow_id: FlowId, access: FlowWriter
) -> Response:
    ctx = app_context(request)
    result = await flow_copy.copy_flow(
        ctx.store,
        ctx.settings,
        access.org_id,
        access.principal,
        flow_id,
        body.targetOrgId,
        body.name,
        access.meta,
    )
    return _flow(result)


@router.post(
    "/clipboard/paste",
    summary="Paste nodes and edges into a flow of this org or, from this org, of another",
    responses=WRITE,
)
async def paste(body: PasteBody, request: Request, access: FlowWriter) -> Response:
    ctx = app_context(request)
    target_org_id, source_org_id = await flow_copy.paste_orgs(
        ctx.store,
        access.org_id,
        access.principal,
        body.targetFlowId,
        target_org_id=body.targetOrgId,
        source_org_id=body.sourceOrgId,
    )
    result = await flow_copy.paste(
        ctx.store,
        ctx.settings,
        target_org_id,
        access.principal,
        body.targetFlowId,
        body.nodes,
        body.edges,
        source_org_id=source_org_id,
        source_flow_id=body.sourceFlowId,
        meta=access.meta,
    )
    return json_response(result)
