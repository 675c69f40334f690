"""``POST /v1/socket-tickets``: a single-use ticket for ``?ticket=`` on a socket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from minibase.api.deps import app_context, bearer_token, current_principal
from minibase.api.shapes import SIGNED_IN
from minibase.auth.socket_tickets import issue_ticket
from minibase.domain.principal import Principal
from minibase.http.responses import json_response

router = APIRouter(prefix="/v1", tags=["real time"], responses=SIGNED_IN)


@router.post(
    "/socket-tickets",
    status_code=201,
    summary="A single-use ticket (30 s) for ?ticket= on /v1/sync and /v1/collab",
)
async def create_socket_ticket(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Response:
    ticket, expires_at = await issue_ticket(app_context(request).store, bearer_token(request))
    return json_response({"ticket": ticket, "expiresAt": expires_at}, status_code=201)
