"""``Idempotency-Key`` on writes: a retry with the same key and body replays the first answer.

Records live in ``idempotency_records`` (shared by every instance), keyed by
``(sha256(Authorization header) or "anon", sha256(key))``; ``request_hash`` covers
method, path, query and body. For a write carrying the header:

* no record: a placeholder (``status = 0``) is inserted first, so a concurrent duplicate
  gets 409 ``conflict``; the request runs; a 2xx or 4xx answer (but 429) is stored with its
  body and a few headers, anything else removes the placeholder so the retry runs again;
* same key, same request, answered: the stored answer is replayed (with
  ``Idempotent-Replayed: true``) and nothing runs again;
* same key, other method, path or body: 422 ``validation_error`` (field ``Idempotency-Key``);
* answers may carry secrets (signup and login return a session token, API key and
  invitation creation their key or token), and tokens are never stored in plaintext: every
  stored answer is sealed (AES-GCM) under a key derived from the request's own secrets
  (the ``Authorization`` header, the idempotency key, and the body, which for signup and
  login holds the password). None of them is stored (the idempotency key is kept only as
  its SHA-256), so the database alone reveals no answer, while the same retry can still
  be answered;
* a placeholder older than :data:`IN_FLIGHT_TIMEOUT_MS` (its instance died mid-request)
  is taken over by the retry.

Records expire after ``idempotency_ttl_hours``; they are deleted then.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minibase.auth.credentials import authenticate
from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.errors import Conflict, MinibaseError, Unauthenticated, ValidationFailed
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
        request_bytes = b"\0".join(
            [
                scope["method"].encode(),
                scope["path"].encode("utf-8"),
                scope.get("query_string", b""),
                body,
            ]
        )
        request_hash = hashlib.sha256(request_bytes).hexdigest()
        # Never stored: derived from secrets the caller presents again on a retry.
        sealing_key = hashlib.sha256(
            b"\0".join(
                [
                    b"minibase-idempotency-seal-v1",
                    (_header(scope, b"authorization") or "").encode("utf-8"),
                    key.encode("ascii"),
                    request_bytes,
                ]
            )
        ).digest()
        key = hashlib.sha256(key.encode("ascii")).hexdigest()

        replay = await self._claim(store, principal_key, key, request_hash, ttl_ms, sealing_key)
        if replay is not None:
            authorization = _header(scope, b"authorization")
            if authorization:
                # A replay is still a use of the token: a revoked or expired one gets 401.
                scheme, _, token = authorization.partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    raise Unauthenticated("Send `Authorization: Bearer <token>`.")
                await authenticate(store, ctx.settings, token.strip())
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
                            headers={"headers": kept},
                            body=_seal(sealing_key, response_body),
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
        self,
        store: Store,
        principal_key: str,
        key: str,
        request_hash: str,
        ttl_ms: int,
        sealing_key: bytes,
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
        content = _unseal(sealing_key, row.body)
        replay_headers = {name: value for name, value in meta.get("headers", [])}
        replay_headers["Idempotent-Replayed"] = "true"
        return Response(content=content, status_code=row.status, headers=replay_headers)


def _seal(key: bytes, plaintext: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, None)


def _unseal(key: bytes, sealed: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:12], sealed[12:], None)
    except InvalidTag:  # only the same request derives the same key
        raise Conflict("This Idempotency-Key was used by another request.") from None


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
