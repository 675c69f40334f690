"""Invitations: ``/v1/orgs/{orgId}/invitations`` (admin) and ``/v1/invitations/accept``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context, current_user, request_meta
from minibase.api.schemas import Body
from minibase.api.shapes import IN_ORG, WRITE
from minibase.domain.emails import MAX_EMAIL_LENGTH
from minibase.domain.principal import Principal
from minibase.domain.roles import Action, Role
from minibase.http.responses import json_response
from minibase.services import invitations

router = APIRouter(tags=["invitations"], responses=IN_ORG)

InvitationId = Annotated[str, Path(alias="invitationId", min_length=1, max_length=64)]


class InviteBody(Body):
    email: str = Field(max_length=MAX_EMAIL_LENGTH)
    role: Role


class AcceptBody(Body):
    token: str = Field(min_length=1, max_length=200)


@router.post(
    "/v1/orgs/{orgId}/invitations",
    status_code=201,
    summary="Invite an email address with a role (admin); the token is shown only here",
    responses=WRITE,
)
async def create_invitation(
    body: InviteBody,
    request: Request,
    access: Annotated[OrgAccess, Depends(Require(Action.INVITATIONS_MANAGE))],
) -> Response:
    ctx = app_context(request)
    created = await invitations.create_invitation(
        ctx.store,
        ctx.settings,
        ctx.invitation_sender,
        access.org_id,
        access.principal,
        body.email,
        body.role,
        access.meta,
    )
    return json_response(created, status_code=201)


@router.get("/v1/orgs/{orgId}/invitations", summary="Pending invitations (admin)")
async def list_invitations(
    request: Request,
    access: Annotated[OrgAccess, Depends(Require(Action.INVITATIONS_MANAGE))],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    result = await invitations.list_invitations(
        app_context(request).store, access.org_id, access.principal, limit, cursor
    )
    return json_response(result)


@router.delete(
    "/v1/orgs/{orgId}/invitations/{invitationId}",
    status_code=204,
    summary="Revoke a pending invitation (admin)",
)
async def revoke_invitation(
    request: Request,
    invitation_id: InvitationId,
    access: Annotated[OrgAccess, Depends(Require(Action.INVITATIONS_MANAGE))],
) -> Response:
    await invitations.revoke_invitation(
        app_context(request).store, access.org_id, access.principal, invitation_id, access.meta
    )
    return Response(status_code=204)


@router.post(
    "/v1/invitations/accept", summary="Accept an invitation as the signed-in user", responses=WRITE
)
async def accept_invitation(
    body: AcceptBody,
    request: Request,
    principal: Annotated[Principal, Depends(current_user)],
) -> Response:
    result = await invitations.accept_invitation(
        app_context(request).store, principal, body.token, request_meta(request)
    )
    return json_response(result)
