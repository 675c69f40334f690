"""``/v1/orgs/{orgId}/usage``: usage against the plan's quotas, with warnings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from minibase.api.deps import OrgAccess, app_context, require
from minibase.domain.roles import Action
from minibase.http.responses import json_response
from minibase.services.orgs import load_org
from minibase.services.usage import limits_of, usage_json, usage_of

router = APIRouter(prefix="/v1/orgs/{orgId}", tags=["usage"])


@router.get("/usage", summary="Flows, nodes and storage used, limits and warnings")
async def get_usage(
    request: Request, access: Annotated[OrgAccess, Depends(require(Action.USAGE_READ))]
) -> Response:
    async with app_context(request).store.tenant(access.org_id, access.principal) as uow:
        org = await load_org(uow)
    return json_response(usage_json(usage_of(org), limits_of(org)))
