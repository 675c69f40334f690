"""ASGI middleware: request ids, the declared body size limit, the access log, and the
last word on any failure (the error shape, with its request id)."""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minibase.errors import MinibaseError, PayloadTooLarge
from minibase.http.errors import error_for_unexpected
from minibase.http.responses import send_error
from minibase.http.security_headers import SecurityHeaders
from minibase.logs import REQUEST_ID, request_extra

access_log = logging.getLogger("minibase.access")
error_log = logging.getLogger("minibase.errors")
CLIENT_CLOSED = 499
"""The access log's status for a request whose client went away before the answer."""
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Give every request an id, refuse a declared body over the limit (the input guard
    counts what actually arrives), add the security headers
    (:mod:`minibase.http.security_headers`) and log one JSON line when it ends.

    An exception no handler answered becomes the contract's 500 error here, with its
    ``X-Request-Id`` and one ERROR line with the traceback; a client that disconnects
    mid-request is logged on the access line (``"disconnected": true``, status 499), not as
    an error. A value no driver or serializer could hold is a 422, not a 500
    (:func:`minibase.http.errors.error_for_unexpected`).

    The logged path never includes the query string: WebSocket tokens travel there.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        security_headers: SecurityHeaders | None = None,
        body_limits: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = body_limits or {}
        """Paths allowed another body limit (``POST /v1/orgs/import`` takes archives)."""
        self.security = security_headers or SecurityHeaders(hsts=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = ""
        declared = 0
        limit = self.body_limits.get(scope.get("path", ""), self.max_body_bytes)
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _REQUEST_ID.match(candidate):
                    request_id = candidate
            elif name == b"content-length" and scope["type"] == "http":
                with contextlib.suppress(ValueError):
                    declared = max(declared, int(value))
        request_id = request_id or "req_" + secrets.token_hex(12)
        scope.setdefault("state", {})["request_id"] = request_id
        # Every log line written while this request (or socket) is served carries its id.
        token = REQUEST_ID.set(request_id)
        try:
            if declared > limit:
                await self._reject_too_large(scope, send, limit, request_id)
                return
            await self._serve(scope, receive, send, request_id)
        finally:
            REQUEST_ID.reset(token)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        status = 0
        security = self.security

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                headers.extend(security.for_response(headers))
                message = {**message, "headers": headers}
            elif message["type"] == "websocket.accept":
                status = 101
            elif message["type"] == "websocket.close" and not status:
                status = 403
            await send(message)

        outcome: dict[str, object] = {}
        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client went away mid-request: nothing to answer, nothing went wrong here.
            outcome["disconnected"] = True
            status = status or CLIENT_CLOSED
        except Exception as exc:
            if scope["type"] != "http" or status:
                raise  # an answer is under way: only the server can end the connection
            error = error_for_unexpected(exc)
            if error.status >= 500:
                error_log.error(
                    "unhandled error",
                    exc_info=exc,
                    extra={"path": scope.get("path", ""), **request_extra(request_id)},
                )
            await self._answer(send_with_id, error)
        finally:
            access_log.info(
                "request",
                extra={
                    "method": scope.get("method", "WS"),
                    "path": scope.get("path", ""),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    **request_extra(request_id),
                    **outcome,
                },
            )

    @staticmethod
    async def _answer(send: Send, error: MinibaseError) -> None:
        """The contract's error shape for a failure no handler answered."""
        await send_error(send, error)

    async def _reject_too_large(
        self, scope: Scope, send: Send, limit: int, request_id: str
    ) -> None:
        error = PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        headers = [(b"connection", b"close"), (b"x-request-id", request_id.encode("ascii"))]
        await send_error(send, error, [*headers, *self.security.api])
        access_log.info(
            "request",
            extra={
                "method": scope.get("method", ""),
                "path": scope.get("path", ""),
                "status": error.status,
                "duration_ms": 0.0,
                **request_extra(request_id),
            },
        )
