"""``/v1/orgs``: create, list, read, update, delete organizations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from minibase.api.deps import (
    OrgAccess,
    Require,
    app_context,
    current_principal,
    current_user,
    request_meta,
)
from minibase.api.schemas import MAX_INT32, MAX_INT64, Body
from minibase.api.shapes import IN_ORG, WRITE
from minibase.domain.plans import Plan
from minibase.domain.principal import Principal
from minibase.domain.roles import Action, Role
from minibase.errors import Forbidden
from minibase.http.responses import json_response
from minibase.services import orgs
from minibase.services.instance_admins import is_instance_admin

router = APIRouter(prefix="/v1/orgs", tags=["organizations"], responses=IN_ORG)


class CreateOrgBody(Body):
    name: str = Field(min_length=1, max_length=200)
    plan: Plan = Plan.FREE


class RetentionBody(Body):
    """Days to keep each kind of data (``null``: forever); applied by a periodic job."""

    outputsDays: int | None = Field(None, ge=1, le=36500)
    runsDays: int | None = Field(None, ge=1, le=36500)
    versionsDays: int | None = Field(None, ge=1, le=36500)


class OrgSettingsBody(Body):
    maxNodes: int | None = Field(None, ge=0, le=MAX_INT32)
    maxFlows: int | None = Field(None, ge=0, le=MAX_INT32)
    allowedNodeTypes: list[Annotated[str, Field(max_length=200)]] | None = Field(
        None, max_length=1000
    )
    storageQuota: int | None = Field(None, ge=0, le=MAX_INT64)
    commentsBy: Role | None = None
    """The lowest role that may comment (``null``: viewers and up)."""
    retention: RetentionBody | None = None


class BillingBody(Body):
    plan: Plan | None = None


class UpdateOrgBody(Body):
    name: str | None = Field(None, min_length=1, max_length=200)
    settings: OrgSettingsBody | None = None
    billing: BillingBody | None = None


class OrgList(BaseModel):
    items: list[dict[str, object]]
    nextCursor: str | None


@router.post(
    "", status_code=201, summary="Create an organization; the caller becomes admin", responses=WRITE
)
async def create_org(
    body: CreateOrgBody,
    request: Request,
    principal: Annotated[Principal, Depends(current_user)],
) -> Response:
    ctx = app_context(request)
    if body.plan != Plan.FREE and not await is_instance_admin(ctx.store, ctx.settings, principal):
        raise Forbidden("Only an instance admin may start an organization on another plan.")
    org = await orgs.create_org(ctx.store, principal, body.name, body.plan, request_meta(request))
    return json_response(org, status_code=201)


@router.get("", summary="The caller's organizations", response_model=OrgList)
async def list_orgs(
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    result = await orgs.list_orgs(app_context(request).store, principal, limit, cursor)
    return json_response(result)


@router.get("/{orgId}", summary="One organization")
async def get_org(
    request: Request, access: Annotated[OrgAccess, Depends(Require(Action.ORG_READ))]
) -> Response:
    org = await orgs.get_org(app_context(request).store, access.org_id, access.principal)
    return json_response(org)


@router.patch("/{orgId}", summary="Rename, change settings or plan (admin)", responses=WRITE)
async def update_org(
    body: UpdateOrgBody,
    request: Request,
    access: Annotated[OrgAccess, Depends(Require(Action.ORG_UPDATE))],
) -> Response:
    changes = body.model_dump(exclude_unset=True)
    if body.settings is not None:
        changes["settings"] = body.settings.model_dump(exclude_unset=True)
    ctx = app_context(request)
    org = await orgs.update_org(
        ctx.store,
        access.org_id,
        access.principal,
        changes,
        access.meta,
        instance_admin=await is_instance_admin(ctx.store, ctx.settings, access.principal),
    )
    return json_response(org)


@router.delete("/{orgId}", status_code=204, summary="Delete the organization (admin)")
async def delete_org(
    request: Request, access: Annotated[OrgAccess, Depends(Require(Action.ORG_DELETE))]
) -> Response:
    await orgs.delete_org(app_context(request).store, access.org_id, access.principal, access.meta)
    return Response(status_code=204)
