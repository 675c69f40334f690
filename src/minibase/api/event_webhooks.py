"""``/v1/orgs/{orgId}/event-webhooks``: outbound webhooks of the org's events (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.shapes import IN_ORG, WRITE
from minibase.domain.roles import Action
from minibase.http.body import json_schema_body, read_json_object
from minibase.http.responses import json_response
from minibase.services import event_webhooks

router = APIRouter(prefix="/v1/orgs/{orgId}/event-webhooks", tags=["runs"], responses=IN_ORG)

Admin = Annotated[OrgAccess, Depends(Require(Action.EVENT_WEBHOOKS_MANAGE))]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]

_CREATE = {
    "type": "object",
    "required": ["url", "events"],
    "properties": {
        "url": {
            "type": "string",
            "description": "http or https; loopback, private and link-local targets are "
            "refused (422) unless MINIBASE_WEBHOOK_ALLOW_PRIVATE=true.",
        },
        "events": {
            "type": "array",
            "items": {"type": "string", "enum": list(event_webhooks.EVENTS)},
        },
    },
}


@router.post(
    "",
    status_code=201,
    summary="Subscribe a URL to the org's events; the answer's `secret` is shown only here",
    openapi_extra=json_schema_body(_CREATE),
    responses=WRITE,
)
async def create_event_webhook(request: Request, access: Admin) -> Response:
    body = await read_json_object(request)
    ctx = app_context(request)
    async with ctx.store.tenant(access.org_id, access.principal, write=True) as uow:
        created = await event_webhooks.create_webhook(uow, ctx.settings, body, access.meta)
    return json_response(created, status_code=201)


@router.get("", summary="List the org's event webhooks (without secrets)")
async def list_event_webhooks(
    request: Request, access: Admin, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    async with app_context(request).store.tenant(access.org_id, access.principal) as uow:
        return json_response(await event_webhooks.list_webhooks(uow, limit=limit, cursor=cursor))


@router.delete("/{webhookId}", status_code=204, summary="Delete an event webhook")
async def delete_event_webhook(request: Request, webhookId: str, access: Admin) -> Response:
    async with app_context(request).store.tenant(
        access.org_id, access.principal, write=True
    ) as uow:
        await event_webhooks.delete_webhook(uow, webhookId, access.meta)
    return Response(status_code=204)


@router.get(
    "/{webhookId}/deliveries",
    summary="The webhook's deliveries, newest first (status, attempts, response, next attempt)",
)
async def list_deliveries(
    request: Request, webhookId: str, access: Admin, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    async with app_context(request).store.tenant(access.org_id, access.principal) as uow:
        return json_response(
            await event_webhooks.list_deliveries(uow, webhookId, limit=limit, cursor=cursor)
        )
