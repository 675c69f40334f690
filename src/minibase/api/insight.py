"""Analytics (``/v1/orgs/{orgId}/analytics``) and metering (``.../billing/usage``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from minibase.api.admin import Admin
from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.shapes import IN_ORG, SIGNED_IN, error
from minibase.domain.pricing import parse_prices
from minibase.domain.roles import Action
from minibase.http.responses import json_response
from minibase.services import analytics, metering

router = APIRouter(prefix="/v1/orgs/{orgId}", tags=["analytics and metering"], responses=IN_ORG)


@router.get("/analytics", summary="Node times, bottlenecks, usage, daily figures, suggestions")
async def get_analytics(
    request: Request,
    access: Annotated[OrgAccess, Depends(Require(Action.ANALYTICS_READ))],
    start: Annotated[int | None, Query(alias="from", ge=0, le=253_402_300_799_999)] = None,
    end: Annotated[int | None, Query(alias="to", ge=0, le=253_402_300_799_999)] = None,
    flow_id: Annotated[str | None, Query(alias="flowId", min_length=1, max_length=64)] = None,
) -> Response:
    window = analytics.parse_range(start, end, flow_id)
    result = await analytics.analytics(
        app_context(request).store, access.org_id, access.principal, window
    )
    return json_response(result)


@router.get("/billing/usage", summary="Metered usage of a month, priced, by flow and by member")
async def billing_usage(
    request: Request,
    access: Annotated[OrgAccess, Depends(Require(Action.BILLING_READ))],
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> Response:
    ctx = app_context(request)
    result = await metering.billing_usage(
        ctx.store,
        access.org_id,
        access.principal,
        metering.parse_month(month),
        parse_prices(ctx.settings.prices),
    )
    return json_response(result)


admin_router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=SIGNED_IN)


@admin_router.get(
    "/billing/usage",
    summary="Every organization's metered usage of a month (instance admins)",
    responses=error(404, "The caller is not an instance admin (`not_found`)."),
)
async def instance_billing_usage(
    request: Request,
    admin: Admin,
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> Response:
    ctx = app_context(request)
    result = await metering.instance_usage(
        ctx.store, metering.parse_month(month), parse_prices(ctx.settings.prices)
    )
    return json_response(result)
