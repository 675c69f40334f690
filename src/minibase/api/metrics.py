"""``GET /metrics``: Prometheus text format (open, or with ``MINIBASE_METRICS_TOKEN``)."""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from minibase.api.deps import app_context
from minibase.api.shapes import error
from minibase.errors import Unauthenticated
from minibase.http.metrics import Gauge, Metrics
from minibase.realtime.hub import LiveQueryHub
from minibase.realtime.probe import BusProbe
from minibase.services.instance_metrics import run_counts

router = APIRouter(tags=["operations"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _check_token(request: Request, token: str) -> None:
    if not token:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        raise Unauthenticated("Send `Authorization: Bearer <MINIBASE_METRICS_TOKEN>`.")


@router.get(
    "/metrics",
    summary="Metrics in the Prometheus text format",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE: {}}},
        **error(401, "`MINIBASE_METRICS_TOKEN` is set and was not sent (`unauthenticated`)."),
    },
)
async def metrics(request: Request) -> Response:
    ctx = app_context(request)
    _check_token(request, ctx.settings.metrics_token.get_secret_value())
    registry: Metrics = request.app.state.metrics
    probe: BusProbe = request.app.state.bus_probe
    hub: LiveQueryHub = ctx.hub
    rooms = ctx.collab.rooms() if ctx.collab is not None else []
    lag = await probe.lag()
    runs = await run_counts(ctx.store)
    gauges = [
        Gauge("sync_sockets", "Open /v1/sync sockets.", [({}, len(hub.connections))]),
        Gauge(
            "sync_subscriptions",
            "Live-query subscriptions.",
            [({}, sum(len(c.subscriptions) for c in hub.connections))],
        ),
        Gauge("collab_rooms", "Loaded collaborative-editing rooms.", [({}, len(rooms))]),
        Gauge(
            "collab_sockets",
            "Open /v1/collab sockets.",
            [({}, sum(len(room.clients) for room in rooms))],
        ),
        Gauge(
            "bus_lag_seconds",
            "Time for an event to travel through the bus and back (-1: not back within 1 s).",
            [({}, -1.0 if lag is None else lag)],
        ),
        Gauge(
            "runs",
            "Runs of the deployment waiting for a worker (queued) or held by one (running).",
            [({"state": state}, count) for state, count in runs.items()],
        ),
        Gauge(
            "uptime_seconds",
            "Seconds since this instance started.",
            [({}, time.time() - registry.started)],
        ),
    ]
    return Response(registry.render(gauges), media_type=CONTENT_TYPE)
