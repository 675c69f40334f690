"""``GET /v1/me/export`` and ``DELETE /v1/me``: the signed-in user's personal data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from minibase.api.deps import app_context, current_user, request_meta
from minibase.api.shapes import SIGNED_IN, errors
from minibase.domain.principal import Principal
from minibase.http.responses import json_response
from minibase.services import personal_data

router = APIRouter(prefix="/v1", tags=["auth"], responses=SIGNED_IN)

User = Annotated[Principal, Depends(current_user)]


@router.get("/me/export", summary="Everything this instance holds about the signed-in user")
async def export_me(request: Request, principal: User) -> Response:
    data = await personal_data.export_me(app_context(request).store, principal)
    return json_response(
        data, headers={"Content-Disposition": 'attachment; filename="minibase-me.json"'}
    )


@router.delete(
    "/me",
    status_code=204,
    summary="Erase the account (409 while the caller is the last admin of an org)",
    responses=errors(409),
)
async def erase_me(request: Request, principal: User) -> Response:
    await personal_data.erase_me(app_context(request).store, principal, request_meta(request))
    return Response(status_code=204)
