"""``Idempotency-Key`` on writes, the HTTP side: capture the answer, replay a stored one.

The use case (claims, replays, what is stored, re-authentication) is
:mod:`minibase.services.idempotency`. This middleware reads the body once (the route then
reads the same bytes), holds the answer back until the service has stored it (so a retry
made after the client saw the answer is always a replay, never "still in progress"),
and answers the service's refusals in the error shape.
"""

from __future__ import annotations

from typing import cast

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minibase.context import AppContext
from minibase.errors import MinibaseError
from minibase.http.responses import json_response
from minibase.services.idempotency import WRITE_METHODS, Idempotency, IdempotentRequest


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return cast(bytes, value).decode("latin-1")
    return None


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._ctx: AppContext | None = None
        self._service: Idempotency | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        key = _header(scope, b"idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        try:
            await self._handle(scope, receive, send, key)
        except MinibaseError as error:
            response = json_response(error.to_body(), error.status, headers=error.headers)
            await response(scope, receive, send)

    def _service_for(self, scope: Scope) -> Idempotency:
        ctx = cast(AppContext, scope["app"].state.ctx)
        if self._service is None or ctx is not self._ctx:
            self._ctx = ctx
            self._service = Idempotency(ctx.store, ctx.settings)
        return self._service

    async def _handle(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        service = self._service_for(scope)
        body = await _read_body(receive)
        request = IdempotentRequest(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b""),
            body=body,
            authorization=_header(scope, b"authorization"),
            key=key,
        )
        answer = await service.begin(request)
        if answer is not None:
            replay = Response(answer.body, status_code=answer.status, headers=dict(answer.headers))
            await replay(scope, receive, send)
            return

        status = 0
        headers: list[tuple[str, str]] = []
        messages: list[Message] = []
        body_sent = False

        async def replay_receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.extend(
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                )
            messages.append(message)

        finished = False
        try:
            await self.app(scope, replay_receive, capture_send)
            answer_body = b"".join(
                m.get("body", b"") for m in messages if m["type"] == "http.response.body"
            )
            await service.finish(request, status, headers, answer_body)
            finished = True
        finally:
            if not finished:
                await service.abandon(request)
        for message in messages:
            await send(message)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()  # a partial body is no request: nothing is claimed
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
