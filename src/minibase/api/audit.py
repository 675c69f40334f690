"""``/v1/orgs/{orgId}/audit``: the tamper-evident audit log (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.schemas import MAX_INT64
from minibase.api.shapes import IN_ORG
from minibase.domain.roles import Action
from minibase.http.responses import json_response
from minibase.services import audit

router = APIRouter(prefix="/v1/orgs/{orgId}/audit", tags=["audit"], responses=IN_ORG)

Auditor = Annotated[OrgAccess, Depends(Require(Action.AUDIT_READ))]


@router.get("", summary="Audit events, newest first, with filters")
async def list_audit(
    request: Request,
    access: Auditor,
    action: Annotated[str | None, Query(max_length=100)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    resource: Annotated[str | None, Query(max_length=300)] = None,
    since: Annotated[int | None, Query(alias="from", ge=0, le=MAX_INT64)] = None,
    until: Annotated[int | None, Query(alias="to", ge=0, le=MAX_INT64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    filters = audit.AuditFilter(
        action=action, actor=actor, resource=resource, since=since, until=until
    )
    events = await audit.events_page(
        app_context(request).store,
        access.org_id,
        access.principal,
        filters,
        limit=limit,
        cursor=cursor,
    )
    return json_response(events)


@router.get("/verify", summary="Check the hash chain; report the first broken link")
async def verify_audit(request: Request, access: Auditor) -> Response:
    result = await audit.verify(app_context(request).store, access.org_id, access.principal)
    return json_response(result)
