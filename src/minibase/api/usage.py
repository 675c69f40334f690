"""``/v1/orgs/{orgId}/usage``: usage against the plan's quotas, with warnings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.shapes import IN_ORG
from minibase.domain.roles import Action
from minibase.http.responses import json_response
from minibase.services.usage import read_usage

router = APIRouter(prefix="/v1/orgs/{orgId}", tags=["usage"], responses=IN_ORG)


@router.get("/usage", summary="Flows, nodes and storage used, limits and warnings")
async def get_usage(
    request: Request, access: Annotated[OrgAccess, Depends(Require(Action.USAGE_READ))]
) -> Response:
    usage = await read_usage(app_context(request).store, access.org_id, access.principal)
    return json_response(usage)
