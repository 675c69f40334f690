"""``/v1/orgs/{orgId}/members``: list, change a role, remove or leave."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.schemas import Body
from minibase.api.shapes import IN_ORG, WRITE
from minibase.domain.roles import Action, Role
from minibase.http.responses import json_response
from minibase.services import members

router = APIRouter(prefix="/v1/orgs/{orgId}/members", tags=["members"], responses=IN_ORG)

UserId = Annotated[str, Path(alias="userId", min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]


class RoleBody(Body):
    role: Role


@router.get("", summary="Members and their roles")
async def list_members(
    request: Request,
    access: Annotated[OrgAccess, Depends(Require(Action.MEMBERS_READ))],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    result = await members.list_members(
        app_context(request).store, access.org_id, access.principal, limit=limit, cursor=cursor
    )
    return json_response(result)


@router.patch("/{userId}", summary="Change a member's role (admin)", responses=WRITE)
async def change_role(
    body: RoleBody,
    request: Request,
    user_id: UserId,
    access: Annotated[OrgAccess, Depends(Require(Action.MEMBERS_MANAGE))],
) -> Response:
    member = await members.change_role(
        app_context(request).store,
        access.org_id,
        access.principal,
        user_id,
        body.role,
        access.meta,
    )
    return json_response(member)


@router.delete("/{userId}", status_code=204, summary="Remove a member (admin), or leave (oneself)")
async def remove_member(
    request: Request,
    user_id: UserId,
    access: Annotated[
        OrgAccess, Depends(Require(Action.MEMBERS_MANAGE, on_self=Action.MEMBERS_LEAVE))
    ],
) -> Response:
    await members.remove_member(
        app_context(request).store, access.org_id, access.principal, user_id, access.meta
    )
    return Response(status_code=204)
