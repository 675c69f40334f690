"""Limits of the HTTP server itself: header and body read timeouts, a connection cap.

uvicorn has a keep-alive timeout but no bound on how long a client may take to send its
headers or its body, and no cap on connections that answers before a request is read.
:func:`limited_protocol` returns uvicorn's httptools protocol with those added:

- ``header_timeout``: from a connection's first byte (or the start of its next request)
  to the end of the request's headers. Past it: 408 and the connection closes.
- ``body_timeout``: from the end of the headers to the end of the body (the whole body,
  so a client dripping one byte at a time cannot hold a connection). Past it: 408 (or,
  when the route has already answered, just the close).
- ``max_connections``: HTTP and WebSocket connections together. A connection beyond the
  cap is answered 503 at once and closed, before it can hold anything.

The answers are in the contract's error shape, and so is the 400 for a request the HTTP
parser cannot read (uvicorn's own is ``text/plain``). WebSocket connections leave these timers
when they upgrade; their lifetime is the sockets' own business.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from minibase.errors import BadRequest, MinibaseError, RequestTimeout, ServiceUnavailable

log = logging.getLogger("minibase.server")


def _raw_response(error: MinibaseError) -> bytes:
    body = orjson.dumps(error.to_body())
    reason = {400: b"Bad Request", 408: b"Request Timeout", 503: b"Service Unavailable"}.get(
        error.status, b"Error"
    )
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (error.status, reason),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of the module docstring."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_headers = False

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._on_deadline)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _on_deadline(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        answered = self.cycle is not None and self.cycle.response_started
        if not answered:
            self.transport.write(_raw_response(RequestTimeout()))
        log.info("request timed out", extra={"headers": self._reading_headers})
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self.connections.discard(self)
            transport.write(_raw_response(ServiceUnavailable("Too many connections.")))
            transport.close()
            log.warning("connection refused: cap reached", extra={"cap": self.max_connections})
            return
        self._reading_headers = True
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._reading_headers:  # the next request on a kept-alive connection
            self._reading_headers = True
            self._arm(self.header_timeout)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._disarm()
        super().on_headers_complete()
        if self.parser is None or self.parser.should_upgrade():
            return
        if self._has_body():
            self._arm(self.body_timeout)

    def _has_body(self) -> bool:
        for name, value in self.headers:
            if name == b"content-length":
                return value.strip() not in (b"0", b"")
            if name == b"transfer-encoding":
                return True
        return False

    def on_message_complete(self) -> None:
        if not self._reading_headers:
            self._disarm()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """Malformed HTTP (the parser gave up): 400 in the error shape, not text/plain."""
        self._disarm()
        self.transport.write(_raw_response(BadRequest("The HTTP request is malformed.")))
        self.transport.close()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()


def limited_protocol(
    *, header_timeout: float, body_timeout: float, max_connections: int
) -> type[LimitedHttpProtocol]:
    """A :class:`LimitedHttpProtocol` class with these limits (uvicorn's ``http=``)."""
    return type(
        "ConfiguredHttpProtocol",
        (LimitedHttpProtocol,),
        {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "max_connections": max_connections,
        },
    )
