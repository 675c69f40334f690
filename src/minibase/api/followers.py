"""``/v1/orgs/{orgId}/flows/{flowId}/follow``: follow a flow (its failed runs notify you)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.shapes import IN_ORG
from minibase.domain.roles import Action
from minibase.http.responses import json_response
from minibase.services import followers

router = APIRouter(
    prefix="/v1/orgs/{orgId}/flows/{flowId}/follow", tags=["flows"], responses=IN_ORG
)

Reader = Annotated[OrgAccess, Depends(Require(Action.FLOWS_READ))]
FlowId = Annotated[str, Path(alias="flowId", min_length=1, max_length=64)]


@router.get("", summary="Whether the caller follows the flow")
async def get_following(request: Request, flow_id: FlowId, access: Reader) -> Response:
    result = await followers.get_following(
        app_context(request).store, access.org_id, access.principal, flow_id
    )
    return json_response(result)


@router.post("", summary="Follow the flow: its failed runs notify the caller (run_failed)")
async def follow(request: Request, flow_id: FlowId, access: Reader) -> Response:
    result = await followers.set_following(
        app_context(request).store, access.org_id, access.principal, flow_id, True
    )
    return json_response(result)


@router.delete("", summary="Stop following the flow")
async def unfollow(request: Request, flow_id: FlowId, access: Reader) -> Response:
    result = await followers.set_following(
        app_context(request).store, access.org_id, access.principal, flow_id, False
    )
    return json_response(result)
