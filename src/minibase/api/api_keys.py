"""``/v1/orgs/{orgId}/api-keys``: create (key shown once), list, revoke. Admin only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.schemas import Body
from minibase.api.shapes import IN_ORG, WRITE
from minibase.domain.roles import Action, Role
from minibase.http.responses import json_response
from minibase.services import api_keys

router = APIRouter(prefix="/v1/orgs/{orgId}/api-keys", tags=["api keys"], responses=IN_ORG)

KeyId = Annotated[str, Path(alias="keyId", min_length=1, max_length=64)]


class CreateKeyBody(Body):
    name: str = Field(min_length=1, max_length=200)
    role: Role


@router.post(
    "", status_code=201, summary="Create an API key; the key is shown only here", responses=WRITE
)
async def create_api_key(
    body: CreateKeyBody,
    request: Request,
    access: Annotated[OrgAccess, Depends(Require(Action.API_KEYS_MANAGE))],
) -> Response:
    created = await api_keys.create_api_key(
        app_context(request).store,
        access.org_id,
        access.principal,
        body.name,
        body.role,
        access.meta,
    )
    return json_response(created, status_code=201)


@router.get("", summary="API keys (never the keys themselves)")
async def list_api_keys(
    request: Request,
    access: Annotated[OrgAccess, Depends(Require(Action.API_KEYS_MANAGE))],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    result = await api_keys.list_api_keys(
        app_context(request).store, access.org_id, access.principal, limit, cursor
    )
    return json_response(result)


@router.delete("/{keyId}", status_code=204, summary="Revoke an API key at once")
async def revoke_api_key(
    request: Request,
    key_id: KeyId,
    access: Annotated[OrgAccess, Depends(Require(Action.API_KEYS_MANAGE))],
) -> Response:
    await api_keys.revoke_api_key(
        app_context(request).store, access.org_id, access.principal, key_id, access.meta
    )
    return Response(status_code=204)
