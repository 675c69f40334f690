"""The input guard: every request is checked for the classes of bad input no route should see.

One ASGI middleware, before the routes, so that every door gets the same answer on
SQLite and PostgreSQL and no such input ever reaches a driver:

- a NUL character in the path (``%00``): 404, as for any id that names nothing;
- a NUL character in the query string: 422 ``validation_error``;
- the request body is read here, whole, up to ``MINIBASE_MAX_BODY_BYTES`` (413 above,
  chunked bodies included) and handed to the route as it came;
- in a JSON body: what :mod:`minibase.domain.json_input` refuses (a NUL character or a
  lone UTF-16 surrogate in any string or key, an integer beyond 64 bits, nesting deeper
  than 254 levels): 422.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minibase.domain.json_input import MAX_JSON_DEPTH, json_problem
from minibase.errors import MinibaseError, NotFound, PayloadTooLarge, ValidationFailed
from minibase.http.responses import send_error

__all__ = ["MAX_JSON_DEPTH", "InputGuardMiddleware", "json_problem"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _query_problem(query: bytes) -> MinibaseError | None:
    if b"%00" in query or b"\x00" in query:
        message = "NUL characters are not allowed."
        return ValidationFailed(
            [{"field": "query", "message": message, "type": "invalid_character"}], message
        )
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return bool(kind == b"application/json" or kind.endswith(b"+json"))
    return False


class InputGuardMiddleware:
    """Refuse the inputs described in the module docstring before any route runs."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, streamed: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.streamed = streamed or {}
        """Paths whose bodies the route streams (archives), with their own limit: counted
        as they pass, never held here."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "replace")
        if b"%00" in raw_path or "\x00" in scope["path"]:
            await self._refuse(scope, receive, send, NotFound("No such route."))
            return
        problem = _query_problem(scope.get("query_string", b""))
        if problem is not None:
            await self._refuse(scope, receive, send, problem)
            return
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        stream_limit = self.streamed.get(scope["path"])
        if stream_limit is not None:
            await self.app(scope, _counted(receive, stream_limit), send)
            return
        body, tail = await self._read_body(receive)
        if body is None:
            await self._refuse(
                scope,
                receive,
                send,
                PayloadTooLarge(f"The request body exceeds {self.max_body_bytes} bytes."),
            )
            return
        if tail is not None:
            # The client left before its body was complete: no route runs on half a body.
            raise ClientDisconnect()
        if _is_json(scope):
            problem = json_problem(body)
            if problem is not None:
                await self._refuse(scope, receive, send, problem)
                return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> tuple[bytes | None, Message | None]:
        """The whole body (None when over the limit), and the message that ended it early
        (a disconnect), if one did."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), message
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None, None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, error: MinibaseError
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": error.code})
            return
        await send_error(send, error)


def _counted(receive: Receive, limit: int) -> Receive:
    """``receive``, raising 413 once more than ``limit`` body bytes have passed."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        return message

    return counted


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read by the guard, as one message; then the connection's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
