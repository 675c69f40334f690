"""``GET /v1/node-types``: the node types this deployment runs (``?orgId=``: those that
org may use)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from minibase.api.deps import app_context, current_principal
from minibase.api.runs import engine_of
from minibase.api.shapes import SIGNED_IN
from minibase.domain.principal import Principal
from minibase.domain.roles import Action, is_allowed
from minibase.errors import NotFound
from minibase.http.responses import json_response
from minibase.services.orgs import load_org, role_in
from minibase.services.usage import limits_of

router = APIRouter(tags=["runs"], responses=SIGNED_IN)


@router.get("/v1/node-types", summary="Node types: ports, config schema (?orgId= filters)")
async def list_node_types(
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    orgId: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    ctx = app_context(request)
    allowed: tuple[str, ...] | None = None
    if orgId is not None:
        role = await role_in(ctx.store, orgId, principal)
        if not is_allowed(role, Action.ORG_READ):
            raise NotFound("No such organization.")
        async with ctx.store.tenant(orgId, principal) as uow:
            allowed = limits_of(await load_org(uow)).allowed_node_types
    items = [t.to_json() for t in engine_of(ctx).registry if allowed is None or t.type in allowed]
    return json_response({"items": items, "nextCursor": None})
