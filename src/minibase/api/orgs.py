"""``/v1/orgs``: create, list, read, update, delete organizations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from minibase.api.deps import (
    OrgAccess,
    app_context,
    current_principal,
    current_user,
    request_meta,
    require,
)
from minibase.api.schemas import Body
from minibase.domain.plans import Plan
from minibase.domain.principal import Principal
from minibase.domain.roles import Action
from minibase.http.responses import json_response
from minibase.services import orgs

router = APIRouter(prefix="/v1/orgs", tags=["organizations"])


class CreateOrgBody(Body):
    name: str = Field(min_length=1, max_length=200)
    plan: Plan = Plan.FREE


class OrgSettingsBody(Body):
    maxNodes: int | None = Field(None, ge=0)
    maxFlows: int | None = Field(None, ge=0)
    allowedNodeTypes: list[str] | None = Field(None, max_length=1000)
    storageQuota: int | None = Field(None, ge=0)


class BillingBody(Body):
    plan: Plan | None = None


class UpdateOrgBody(Body):
    name: str | None = Field(None, min_length=1, max_length=200)
    settings: OrgSettingsBody | None = None
    billing: BillingBody | None = None


class OrgList(BaseModel):
    items: list[dict[str, object]]
    nextCursor: str | None


@router.post("", status_code=201, summary="Create an organization; the caller becomes admin")
async def create_org(
    body: CreateOrgBody,
    request: Request,
    principal: Annotated[Principal, Depends(current_user)],
) -> Response:
    org = await orgs.create_org(
        app_context(request).store, principal, body.name, body.plan, request_meta(request)
    )
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
    request: Request, access: Annotated[OrgAccess, Depends(require(Action.ORG_READ))]
) -> Response:
    org = await orgs.get_org(app_context(request).store, access.org_id, access.principal)
    return json_response(org)


@router.patch("/{orgId}", summary="Rename, change settings or plan (admin)")
async def update_org(
    body: UpdateOrgBody,
    request: Request,
    access: Annotated[OrgAccess, Depends(require(Action.ORG_UPDATE))],
) -> Response:
    changes = body.model_dump(exclude_unset=True)
    if body.settings is not None:
        changes["settings"] = body.settings.model_dump(exclude_unset=True)
    org = await orgs.update_org(
        app_context(request).store, access.org_id, access.principal, changes, access.meta
    )
    return json_response(org)


@router.delete("/{orgId}", status_code=204, summary="Delete the organization (admin)")
async def delete_org(
    request: Request, access: Annotated[OrgAccess, Depends(require(Action.ORG_DELETE))]
) -> Response:
    await orgs.delete_org(app_context(request).store, access.org_id, access.principal, access.meta)
    return Response(status_code=204)
