"""``/v1/orgs/{orgId}/dashboards``: custom analytics dashboards (charts and filters)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field, field_validator
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.schemas import Body
from minibase.api.shapes import IN_ORG, WRITE
from minibase.domain.roles import Action
from minibase.http.responses import json_response
from minibase.services import dashboards

router = APIRouter(prefix="/v1/orgs/{orgId}/dashboards", tags=["dashboards"], responses=IN_ORG)

Member = Annotated[OrgAccess, Depends(Require(Action.ANALYTICS_READ))]
DashboardId = Annotated[str, Path(alias="dashboardId", min_length=1, max_length=64)]
Millis = Annotated[int, Field(ge=0, le=253_402_300_799_999)]
ChartType = Literal["line", "bar", "table", "number"]
RangeName = Literal["7d", "30d", "90d", "365d"]


class Chart(Body):
    id: str | None = Field(None, min_length=1, max_length=64)
    title: str | None = Field(None, max_length=200)
    type: ChartType
    metric: str = Field(description=f"One of {', '.join(dashboards.METRICS)}.")

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in dashboards.METRICS:
            raise ValueError(f"one of {', '.join(dashboards.METRICS)}")
        return value


class Filters(Body):
    range: RangeName | None = None
    from_: Millis | None = Field(None, alias="from")
    to: Millis | None = None
    flowId: str | None = Field(None, min_length=1, max_length=64)


class DashboardBody(Body):
    name: str = Field(min_length=1, max_length=200)
    charts: list[Chart] = Field(default_factory=list, max_length=50)
    filters: Filters = Field(default_factory=Filters)
    shared: bool = False


class DashboardPatch(Body):
    name: str | None = Field(None, min_length=1, max_length=200)
    charts: list[Chart] | None = Field(None, max_length=50)
    filters: Filters | None = None
    shared: bool | None = None


def _clean(body: DashboardBody | DashboardPatch) -> dict[str, object]:
    fields = body.model_dump(exclude_unset=True, by_alias=True, exclude_none=True)
    if body.filters is not None:
        fields["filters"] = body.filters.model_dump(exclude_none=True, by_alias=True)
    if body.charts is not None:
        fields["charts"] = [c.model_dump(exclude_none=True) for c in body.charts]
    return fields


@router.post("", status_code=201, summary="Save a dashboard", responses=WRITE)
async def create_dashboard(body: DashboardBody, request: Request, access: Member) -> Response:
    created = await dashboards.create_dashboard(
        app_context(request).store, access.org_id, access.principal, _clean(body)
    )
    return json_response(created, status_code=201)


@router.get("", summary="The caller's dashboards and the org's shared ones")
async def list_dashboards(
    request: Request,
    access: Member,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    result = await dashboards.list_dashboards(
        app_context(request).store, access.org_id, access.principal, limit=limit, cursor=cursor
    )
    return json_response(result)


@router.get("/{dashboardId}", summary="One dashboard")
async def get_dashboard(request: Request, dashboard_id: DashboardId, access: Member) -> Response:
    found = await dashboards.get_dashboard(
        app_context(request).store, access.org_id, access.principal, dashboard_id
    )
    return json_response(found)


@router.get("/{dashboardId}/data", summary="The dashboard's charts with their data")
async def dashboard_data(request: Request, dashboard_id: DashboardId, access: Member) -> Response:
    data = await dashboards.dashboard_data(
        app_context(request).store, access.org_id, access.principal, dashboard_id
    )
    return json_response(data)


@router.patch("/{dashboardId}", summary="Change a dashboard (its owner)", responses=WRITE)
async def update_dashboard(
    body: DashboardPatch, request: Request, dashboard_id: DashboardId, access: Member
) -> Response:
    updated = await dashboards.update_dashboard(
        app_context(request).store, access.org_id, access.principal, dashboard_id, _clean(body)
    )
    return json_response(updated)


@router.delete("/{dashboardId}", status_code=204, summary="Delete a dashboard (its owner)")
async def delete_dashboard(request: Request, dashboard_id: DashboardId, access: Member) -> Response:
    await dashboards.delete_dashboard(
        app_context(request).store, access.org_id, access.principal, dashboard_id
    )
    return Response(status_code=204)
