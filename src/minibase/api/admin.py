"""``/v1/admin``: every organization, their plans, and the instance's usage (instance admins).

Everyone but an instance admin (API keys included) gets 404 here, as for a route that
does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from minibase.api.deps import app_context, current_principal, request_meta
from minibase.api.schemas import Body
from minibase.api.shapes import SIGNED_IN, errors
from minibase.domain.plans import Plan
from minibase.domain.principal import Principal
from minibase.errors import NotFound
from minibase.http.responses import json_response
from minibase.services import instance_admins

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses={**SIGNED_IN, **errors(404)})


async def instance_admin(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Principal:
    """The caller, who must be an instance admin (404 otherwise)."""
    ctx = app_context(request)
    if not await instance_admins.is_instance_admin(ctx.store, ctx.settings, principal):
        raise NotFound("No such route.")
    return principal


Admin = Annotated[Principal, Depends(instance_admin)]


class PlanBody(Body):
    plan: Plan


@router.get("/orgs", summary="Every organization, oldest first (instance admins)")
async def list_orgs(
    request: Request,
    admin: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    page = await instance_admins.list_orgs(app_context(request).store, limit, cursor)
    return json_response(page)


@router.patch(
    "/orgs/{orgId}",
    summary="Set an organization's plan (instance admins); recorded in its audit log",
    responses=errors(400, 413),
)
async def set_plan(request: Request, admin: Admin, orgId: str, body: PlanBody) -> Response:
    org = await instance_admins.set_plan(
        app_context(request).store, orgId, body.plan, admin, request_meta(request)
    )
    return json_response(org)


@router.get("/usage", summary="Organizations, users, flows, nodes and storage of the instance")
async def instance_usage(request: Request, admin: Admin) -> Response:
    return json_response(await instance_admins.instance_usage(app_context(request).store))
