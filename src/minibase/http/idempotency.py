"""``Idempotency-Key`` on writes: a retry with the same key and body replays the first answer.

Records live in ``idempotency_records`` (shared by every instance), keyed by
``(sha256(bearer token) or "anon", key)``; ``request_hash`` covers method, path, query
and body. For a write carrying the header:

* no record: a placeholder (``status = 0``) is inserted first, so a concurrent duplicate
  gets 409 ``conflict``; the request runs; a 2xx or 4xx answer (but 429) is stored with its
  body and a few headers, anything else removes the placeholder so the retry runs again;
* same key, same request, answered: the stored answer is replayed (with
  ``Idempotent-Replayed: true``) and nothing runs again;
* same key, other method, path or body: 422 ``validation_error`` (field ``Idempotency-Key``);
* an answer that carried a secret (a session token, API key or invitation token: routes
  call :func:`mark_secret`) is stored without its body, since secrets are never stored in
  plaintext: a retry gets 409 ``conflict`` saying so, and still changes nothing;
* a placeholder older than :data:`IN_FLIGHT_TIMEOUT_MS` (its instance died mid-request)
  is taken over by the retry.

Records expire after ``idempotency_ttl_hours``.
"""

from __future__ import annotations

import hashlib
import re
from typing import cast

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.errors import Conflict, MinibaseError, ValidationFailed
from minibase.http.responses import json_response
from minibase.ids import now_ms
from minibase.store.tables import idempotency_records
from minibase.store.unit_of_work import Store

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IN_FLIGHT_TIMEOUT_MS = 120_000
_SWEEP_INTERVAL_MS = 600_000
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_REPLAYED_HEADERS = frozenset(
    {b"content-type", b"etag", b"location", b"x-quota-warning", b"retry-after"}
)
_SECRET_FLAG = "response_has_secret"  # noqa: S105 (a flag name)


def mark_secret(request: Request) -> None:
    """Tell the idempotency layer that this response carries a secret (never stored)."""
    setattr(request.state, _SECRET_FLAG, True)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return cast(bytes, value).decode("latin-1")
    return None


def _principal_key(scope: Scope) -> str:
    authorization = _header(scope, b"authorization")
    if not authorization:
        return "anon"
    return hashlib.sha256(authorization.strip().encode("utf-8")).hexdigest()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._last_sweep = 0

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

    async def _handle(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        if not _KEY.match(key):
            raise ValidationFailed(
                [
                    {
                        "field": "Idempotency-Key",
                        "message": "Use 1 to 255 printable ASCII characters.",
                        "type": "idempotency_key",
                    }
                ]
            )
        body = await _read_body(receive)
        ctx = cast(AppContext, scope["app"].state.ctx)
        store = ctx.store
        ttl_ms = ctx.settings.idempotency_ttl_hours * 3_600_000
        principal_key = _principal_key(scope)
        request_hash = hashlib.sha256(
            b"\0".join(
                [
                    scope["method"].encode(),
                    scope["path"].encode("utf-8"),
                    scope.get("query_string", b""),
                    body,
                ]
            )
        ).hexdigest()

        replay = await self._claim(store, principal_key, key, request_hash, ttl_ms)
        if replay is not None:
            await replay(scope, receive, send)
            return

        status = 0
        headers: list[tuple[bytes, bytes]] = []
        messages: list[Message] = []
        body_sent = False

        async def replay_receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture_send(message: Message) -> None:
            # Held back until the answer is stored, so a retry made after the client saw
            # it is always a replay, never "still in progress".
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.extend(message.get("headers", []))
            messages.append(message)

        stored = False
        try:
            await self.app(scope, replay_receive, capture_send)
            if (200 <= status < 300 or 400 <= status < 500) and status != 429:
                secret = bool(scope.get("state", {}).get(_SECRET_FLAG)) and status < 300
                kept = [
                    [k.decode("latin-1"), v.decode("latin-1")]
                    for k, v in headers
                    if k.lower() in _REPLAYED_HEADERS
                ]
                response_body = b"".join(
                    m.get("body", b"") for m in messages if m["type"] == "http.response.body"
                )
                async with store.global_(SYSTEM, write=True) as uow:
                    await uow.execute(
                        update(idempotency_records)
                        .where(
                            idempotency_records.c.principal_id == principal_key,
                            idempotency_records.c.key == key,
                        )
                        .values(
                            status=status,
                            headers={"headers": [] if secret else kept, "secret": secret},
                            body=b"" if secret else response_body,
                        )
                    )
                stored = True
        finally:
            if not stored:
                async with store.global_(SYSTEM, write=True) as uow:
                    await uow.execute(
                        delete(idempotency_records).where(
                            idempotency_records.c.principal_id == principal_key,
                            idempotency_records.c.key == key,
                            idempotency_records.c.status == 0,
                        )
                    )
        for message in messages:
            await send(message)

    async def _claim(
        self, store: Store, principal_key: str, key: str, request_hash: str, ttl_ms: int
    ) -> Response | None:
        """Insert the placeholder; or return the response to replay; or raise."""
        now = now_ms()
        where = (
            idempotency_records.c.principal_id == principal_key,
            idempotency_records.c.key == key,
        )
        async with store.global_(SYSTEM, write=True) as uow:
            if now - self._last_sweep > _SWEEP_INTERVAL_MS:
                self._last_sweep = now
                await uow.execute(
                    delete(idempotency_records).where(
                        idempotency_records.c.created_at < now - ttl_ms
                    )
                )
            row = (await uow.execute(select(idempotency_records).where(*where))).first()
            if row is not None and (
                row.created_at < now - ttl_ms
                or (row.status == 0 and row.created_at < now - IN_FLIGHT_TIMEOUT_MS)
            ):
                await uow.execute(delete(idempotency_records).where(*where))
                row = None
            if row is None:
                insert = pg_insert if uow.is_postgres else sqlite_insert
                claimed = (
                    await uow.execute(
                        insert(idempotency_records)
                        .values(
                            principal_id=principal_key,
                            key=key,
                            request_hash=request_hash,
                            status=0,
                            headers={},
                            body=b"",
                            created_at=now,
                        )
                        .on_conflict_do_nothing()
                        .returning(idempotency_records.c.key)
                    )
                ).first()
                if claimed is None:  # a concurrent duplicate got there first
                    raise _in_flight()
                return None
        if row.request_hash != request_hash:
            raise ValidationFailed(
                [
                    {
                        "field": "Idempotency-Key",
                        "message": "This key was used for a different request.",
                        "type": "idempotency_key_reused",
                    }
                ],
                "This Idempotency-Key was already used with a different request.",
            )
        if row.status == 0:
            raise _in_flight()
        meta = row.headers or {}
        if meta.get("secret"):
            raise Conflict(
                "The first response to this Idempotency-Key carried a secret (a token or "
                "key), which is never stored, so it cannot be replayed; the request was not "
                "repeated.",
                {"idempotencyKey": key, "firstStatus": row.status},
            )
        replay_headers = {name: value for name, value in meta.get("headers", [])}
        replay_headers["Idempotent-Replayed"] = "true"
        return Response(content=row.body, status_code=row.status, headers=replay_headers)


def _in_flight() -> Conflict:
    return Conflict("A request with this Idempotency-Key is still in progress; retry later.")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


