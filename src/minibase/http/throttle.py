"""The general per-token request limit: an in-process token bucket per bearer token.

Each token may make ``rate_limit_per_second`` requests per second on average, in bursts
of up to twice that; above it, 429 ``rate_limited`` with ``Retry-After``. Requests
without a token are not counted here (signup and login have their own, stricter limits
in the database). The limit is per instance: N instances allow up to N times the rate.
"""

from __future__ import annotations

import hashlib
import math
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from minibase.errors import RateLimited
from minibase.http.responses import json_response

_IDLE_SECONDS = 60.0


class TokenBuckets:
    """``allow(key)``: spend one token of ``key``'s bucket, or say how long to wait."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._last_sweep = time.monotonic()

    def allow(self, key: str, now: float | None = None) -> float:
        """0.0 when allowed; otherwise the seconds until one request would be."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        if now - self._last_sweep > _IDLE_SECONDS:
            self._sweep(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        idle = [k for k, (_, last) in self._buckets.items() if now - last > _IDLE_SECONDS]
        for k in idle:
            del self._buckets[k]


class ThrottleMiddleware:
    def __init__(self, app: ASGIApp, *, per_second: int) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate=float(per_second), burst=2.0 * per_second)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers", ()):
                if name == b"authorization":
                    key = hashlib.sha256(value).hexdigest()
                    wait = self.buckets.allow(key)
                    if wait > 0:
                        error = RateLimited(math.ceil(wait), "Too many requests for this token.")
                        response = json_response(
                            error.to_body(), error.status, headers=error.headers
                        )
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)
