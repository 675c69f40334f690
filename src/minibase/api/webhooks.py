"""Inbound webhooks: ``/v1/orgs/{orgId}/flows/{flowId}/webhooks`` (manage) and
``POST /v1/hooks/{webhookId}`` (anyone holding the secret starts a run)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context, request_meta
from minibase.api.runs import engine_of
from minibase.api.shapes import IN_ORG, WRITE, errors
from minibase.domain.roles import Action
from minibase.errors import PayloadTooLarge
from minibase.http.body import json_schema_body, parse_json_object, read_json_bytes
from minibase.http.responses import json_response
from minibase.services import webhooks

router = APIRouter(
    prefix="/v1/orgs/{orgId}/flows/{flowId}/webhooks", tags=["runs"], responses=IN_ORG
)
hooks_router = APIRouter(prefix="/v1/hooks", tags=["runs"])

Reader = Annotated[OrgAccess, Depends(Require(Action.FLOWS_READ))]
Runner = Annotated[OrgAccess, Depends(Require(Action.RUNS_EXECUTE))]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]

_CREATE = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 200}},
}


async def _optional_object(request: Request) -> dict[str, object]:
    if not await request.body() and not request.headers.get("content-type"):
        return {}
    return parse_json_object(await read_json_bytes(request))


@router.post(
    "",
    status_code=201,
    summary="Create an inbound webhook of the flow; the answer's `secret` is shown only here",
    openapi_extra=json_schema_body(_CREATE),
    responses=WRITE,
)
async def create_webhook(request: Request, flowId: str, access: Runner) -> Response:
    body = await _optional_object(request)
    ctx = app_context(request)
    key = webhooks.secrets_key(ctx.settings)
    async with ctx.store.tenant(access.org_id, access.principal, write=True) as uow:
        created = await webhooks.create_webhook(
            uow, key, ctx.settings.public_url, flowId, body, access.meta
        )
    return json_response(created, status_code=201)


@router.get("", summary="List the flow's inbound webhooks (without secrets)")
async def list_webhooks(
    request: Request, flowId: str, access: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    ctx = app_context(request)
    async with ctx.store.tenant(access.org_id, access.principal) as uow:
        return json_response(
            await webhooks.list_webhooks(
                uow, ctx.settings.public_url, flowId, limit=limit, cursor=cursor
            )
        )


@router.delete("/{webhookId}", status_code=204, summary="Delete an inbound webhook")
async def delete_webhook(request: Request, flowId: str, webhookId: str, access: Runner) -> Response:
    async with app_context(request).store.tenant(
        access.org_id, access.principal, write=True
    ) as uow:
        await webhooks.delete_webhook(uow, flowId, webhookId, access.meta)
    return Response(status_code=204)


@router.post(
    "/{webhookId}/rotate-secret",
    summary="Give the webhook a new secret (shown only here); the old one stops working",
    responses=WRITE,
)
async def rotate_secret(request: Request, flowId: str, webhookId: str, access: Runner) -> Response:
    ctx = app_context(request)
    key = webhooks.secrets_key(ctx.settings)
    async with ctx.store.tenant(access.org_id, access.principal, write=True) as uow:
        rotated = await webhooks.rotate_secret(
            uow, key, ctx.settings.public_url, flowId, webhookId, access.meta
        )
    return json_response(rotated)


_RUN_ID = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["runId"],
                "properties": {"runId": {"type": "string"}},
            }
        }
    }
}


@hooks_router.post(
    "/{webhookId}",
    status_code=202,
    summary=(
        "Start a run of the webhook's flow (no token: signed as Standard Webhooks with the "
        "webhook's secret); 200 with the first run for a `webhook-id` seen before"
    ),
    openapi_extra={
        "parameters": [
            {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
            for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        ],
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": {"description": "The trigger payload."}}},
        },
    },
    responses={
        202: {"description": "A run was started.", **_RUN_ID},
        200: {"description": "The `webhook-id` was seen before: its run.", **_RUN_ID},
        **errors(400, 401, 403, 404, 413, 422, 429, 500),
    },
)
async def receive(request: Request, webhookId: str) -> Response:
    ctx = app_context(request)
    limit = ctx.settings.webhook_max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"A webhook body may be {limit} bytes at most.")
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(f"A webhook body may be {limit} bytes at most.")
    received = await webhooks.receive(
        ctx.store,
        engine_of(ctx).registry,
        webhooks.secrets_key(ctx.settings),
        webhookId,
        request.headers,
        body,
        request_meta(request),
    )
    return json_response({"runId": received.run_id}, status_code=202 if received.new else 200)
