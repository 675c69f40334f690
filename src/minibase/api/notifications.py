"""``/v1/notifications`` and ``PATCH /v1/me``: the caller's notifications and which of
them also come by mail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from starlette.responses import Response

from minibase.api.deps import app_context, current_user
from minibase.api.schemas import Body
from minibase.api.shapes import SIGNED_IN, WRITE
from minibase.domain.principal import Principal
from minibase.http.responses import json_response
from minibase.services import accounts, notifications

router = APIRouter(prefix="/v1", tags=["notifications"], responses=SIGNED_IN)

User = Annotated[Principal, Depends(current_user)]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]


class ReadBody(Body):
    ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=500
    )
    all: bool = False


class MeBody(Body):
    notificationEmails: dict[str, bool] | None = Field(None, max_length=50)


@router.get("/notifications", summary="The caller's notifications, newest first")
async def list_notifications(
    request: Request,
    principal: User,
    unread: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    result = await notifications.list_notifications(
        app_context(request).store, principal, unread=unread, limit=limit, cursor=cursor
    )
    return json_response(result)


@router.post(
    "/notifications/read",
    summary="Mark notifications read: {ids} or {all: true}",
    responses=WRITE,
)
async def mark_read(body: ReadBody, request: Request, principal: User) -> Response:
    result = await notifications.mark_read(
        app_context(request).store, principal, ids=body.ids, everything=body.all
    )
    return json_response(result)


@router.patch(
    "/me",
    summary="Change the signed-in user's notification mail preferences",
    responses=WRITE,
)
async def update_me(body: MeBody, request: Request, principal: User) -> Response:
    store = app_context(request).store
    if body.notificationEmails is not None:
        await notifications.set_email_preferences(store, principal, body.notificationEmails)
    return json_response(await accounts.me(store, principal))
