"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from minibase.api.deps import app_context
from minibase.http.responses import json_response

router = APIRouter(tags=["health"])

_OK = b'{"status":"ok"}'


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Response:
    return Response(_OK, media_type="application/json")


@router.get("/readyz", summary="Readiness: the database (and Redis when configured) answer")
async def readyz(request: Request) -> Response:
    ctx = app_context(request)
    await ctx.database.ping()
    checks = {"database": "ok"}
    ping_bus = getattr(ctx.bus, "ping", None)
    if ping_bus is not None:
        await ping_bus()
        checks["redis"] = "ok"
    return json_response({"status": "ok", "checks": checks})
