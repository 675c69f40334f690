"""``GET .../export?format=json|csv|xml``: flows and outputs in other formats."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response, StreamingResponse

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.shapes import IN_ORG
from minibase.domain.roles import Action
from minibase.services import flow_formats
from minibase.services.flow_formats import Scope

router = APIRouter(prefix="/v1/orgs/{orgId}", tags=["formats"], responses=IN_ORG)

Reader = Annotated[OrgAccess, Depends(Require(Action.FLOWS_READ))]
FormatQuery = Annotated[str, Query(max_length=16, description="json, csv or xml")]

_RESPONSES = {
    200: {
        "content": {
            "application/json": {},
            "application/zip": {},
            "application/xml": {},
        },
        "description": "The export, streamed (see docs/data.md for the layouts); "
        "422 `unsupported_format` for a format other than json, csv or xml.",
    },
}


async def _export(request: Request, access: OrgAccess, scope: Scope, format: str) -> Response:
    fmt = flow_formats.parse_format(format)
    store = app_context(request).store
    await flow_formats.check_scope(store, access.principal, scope)
    name = f"{scope.flow_id or scope.org_id}.{flow_formats.EXTENSIONS[fmt]}"
    return StreamingResponse(
        flow_formats.export_flows(store, access.principal, scope, fmt),
        media_type=flow_formats.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/export",
    summary="Every flow of the org and its outputs as json, csv (zip) or xml",
    response_class=StreamingResponse,
    responses=_RESPONSES,  # type: ignore[arg-type]
)
async def export_org_flows(
    request: Request, access: Reader, format: FormatQuery = "json"
) -> Response:
    return await _export(request, access, Scope(access.org_id), format)


@router.get(
    "/flows/{flowId}/export",
    summary="One flow and its outputs as json, csv (zip) or xml",
    response_class=StreamingResponse,
    responses=_RESPONSES,  # type: ignore[arg-type]
)
async def export_flow(
    request: Request, access: Reader, flowId: str, format: FormatQuery = "json"
) -> Response:
    return await _export(request, access, Scope(access.org_id, flowId), format)
