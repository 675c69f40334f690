"""Request metrics for ``GET /metrics``: counts and latency histograms by route template.

:class:`MetricsMiddleware` times every HTTP request and labels it with the template of the
route that served it (``/v1/orgs/{orgId}/flows/{flowId}``, never the raw path, whose ids
would make every request a new series), its method and status; requests that matched
no route count as ``unmatched``. :class:`Metrics` keeps the figures in memory, per
instance, and renders them (and any gauges handed to :meth:`Metrics.render`) in the
Prometheus text exposition format.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Latency histogram bounds, in seconds."""


@dataclass(slots=True)
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds


@dataclass(frozen=True, slots=True)
class Gauge:
    """A value read at scrape time: ``name`` (without the ``minibase_`` prefix), help
    text, and one value per label set."""

    name: str
    help: str
    values: list[tuple[dict[str, str], float]]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


class Metrics:
    """The request figures of this instance."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], _Histogram] = defaultdict(_Histogram)
        self.started = time.time()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[method, route, str(status)] += 1
        self.latency[method, route].observe(seconds)

    def render(self, gauges: Iterable[Gauge] = ()) -> str:
        lines = [
            "# HELP minibase_http_requests_total HTTP requests by method, route template "
            "and status.",
            "# TYPE minibase_http_requests_total counter",
        ]
        for (method, route, status), count in sorted(self.requests.items()):
            labels = _labels({"method": method, "route": route, "status": status})
            lines.append(f"minibase_http_requests_total{labels} {count}")
        lines += [
            "# HELP minibase_http_errors_total HTTP answers with a server error (5xx), by "
            "route template.",
            "# TYPE minibase_http_errors_total counter",
        ]
        errors: dict[tuple[str, str], int] = defaultdict(int)
        for (_, route, status), count in self.requests.items():
            if status.startswith("5"):
                errors[route, status] += count
        for (route, status), count in sorted(errors.items()):
            labels = _labels({"route": route, "status": status})
            lines.append(f"minibase_http_errors_total{labels} {count}")
        lines += [
            "# HELP minibase_http_request_duration_seconds Time to answer HTTP requests, "
            "by method and route template.",
            "# TYPE minibase_http_request_duration_seconds histogram",
        ]
        for (method, route), histogram in sorted(self.latency.items()):
            base = {"method": method, "route": route}
            cumulative = 0
            for bound, count in zip((*BUCKETS, float("inf")), histogram.counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(
                    "minibase_http_request_duration_seconds_bucket"
                    f"{_labels({**base, 'le': le})} {cumulative}"
                )
            lines.append(
                f"minibase_http_request_duration_seconds_sum{_labels(base)} {histogram.total!r}"
            )
            lines.append(
                f"minibase_http_request_duration_seconds_count{_labels(base)} {cumulative}"
            )
        for gauge in gauges:
            name = f"minibase_{gauge.name}"
            lines += [f"# HELP {name} {gauge.help}", f"# TYPE {name} gauge"]
            for gauge_labels, value in gauge.values:
                lines.append(f"{name}{_labels(gauge_labels)} {_number(value)}")
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Times each HTTP request and records it in :class:`Metrics` (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - started)
