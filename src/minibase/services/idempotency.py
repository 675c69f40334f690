"""``Idempotency-Key`` on writes: a retry with the same key and request replays the answer.

Records are keyed by ``(sha256(Authorization header) or "anon", sha256(key))`` and shared
by every instance; ``request_hash`` covers method, path, query and body. For a write
carrying the header (the HTTP side, :mod:`minibase.http.idempotency`, captures the answer):

* no record: a placeholder is claimed first, so a concurrent duplicate gets 409
  ``conflict``; the request runs; a 2xx or 4xx answer (but 429) is stored with its body
  and a few headers, anything else removes the placeholder so the retry runs again;
* same key, same request, answered: the stored answer is replayed (with
  ``Idempotent-Replayed: true``) and nothing runs again; a replay is still a use of the
  token, so a revoked or expired one gets 401;
* same key, other method, path or body: 422 ``validation_error`` (field ``Idempotency-Key``);
* stored answers are sealed (:mod:`minibase.services.idempotency_seal`);
* a placeholder older than :data:`IN_FLIGHT_TIMEOUT_MS` (its instance died mid-request)
  is taken over by the retry.

Records expire after ``idempotency_ttl_hours``; they are deleted then.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from minibase.auth.credentials import authenticate
from minibase.config import Settings
from minibase.errors import Conflict, Unauthenticated, ValidationFailed
from minibase.ids import now_ms
from minibase.services.idempotency_seal import Seal, Unsealable
from minibase.store.idempotency import IN_FLIGHT, IdempotencyRecords
from minibase.store.unit_of_work import Store

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IN_FLIGHT_TIMEOUT_MS = 120_000
SWEEP_INTERVAL_MS = 600_000
REPLAYED_HEADERS = frozenset({"content-type", "etag", "location", "x-quota-warning", "retry-after"})
"""The answer's headers that are stored and replayed."""

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """A write that carries an ``Idempotency-Key``."""

    method: str
    path: str
    query: bytes
    body: bytes
    authorization: str | None
    key: str
    principal_id: str = field(init=False)
    key_hash: str = field(init=False)
    request_hash: str = field(init=False)
    seal: Seal = field(init=False)

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise ValidationFailed(
                [
                    {
                        "field": "Idempotency-Key",
                        "message": "Use 1 to 255 printable ASCII characters.",
                        "type": "idempotency_key",
                    }
                ]
            )
        request = b"\0".join(
            [self.method.encode(), self.path.encode("utf-8"), self.query, self.body]
        )
        principal = (
            hashlib.sha256(self.authorization.strip().encode("utf-8")).hexdigest()
            if self.authorization
            else "anon"
        )
        set_ = object.__setattr__
        set_(self, "principal_id", principal)
        set_(self, "key_hash", hashlib.sha256(self.key.encode("ascii")).hexdigest())
        set_(self, "request_hash", hashlib.sha256(request).hexdigest())
        set_(self, "seal", Seal(self.authorization or "", self.key, request))


@dataclass(frozen=True, slots=True)
class Answer:
    """A stored answer, to be sent again as it was."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Idempotency:
    """The use case: claim, replay, store or release."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._records = IdempotencyRecords(store)
        self._last_sweep = 0

    async def begin(self, request: IdempotentRequest) -> Answer | None:
        """Claim the key and return ``None`` (run the request), or the answer to replay.

        Raises 409 (in flight, or another request's key), 422 (another request), 401 (a
        replay for a token no longer valid).
        """
        now = now_ms()
        sweep = now - self._last_sweep > SWEEP_INTERVAL_MS
        if sweep:
            self._last_sweep = now
        claim = await self._records.claim(
            request.principal_id,
            request.key_hash,
            request.request_hash,
            now=now,
            expired_before=now - self._settings.idempotency_ttl_hours * 3_600_000,
            abandoned_before=now - IN_FLIGHT_TIMEOUT_MS,
            sweep=sweep,
        )
        if claim.claimed:
            return None
        record = claim.existing
        if record is None:  # a concurrent duplicate got there first
            raise _in_flight()
        if record.request_hash != request.request_hash:
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
        if record.status == IN_FLIGHT:
            raise _in_flight()
        try:
            body = request.seal.unseal(record.body)
        except Unsealable:  # only the same request derives the same key
            raise Conflict("This Idempotency-Key was used by another request.") from None
        await self._reauthenticate(request)
        return Answer(record.status, [*record.headers, ("Idempotent-Replayed", "true")], body)

    async def _reauthenticate(self, request: IdempotentRequest) -> None:
        if not request.authorization:
            return
        scheme, _, token = request.authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Send `Authorization: Bearer <token>`.")
        await authenticate(self._store, self._settings, token.strip())

    async def finish(
        self, request: IdempotentRequest, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        """Store the answer if a retry should get it again; otherwise release the key."""
        if not ((200 <= status < 300 or 400 <= status < 500) and status != 429):
            await self.abandon(request)
            return
        kept = [(k, v) for k, v in headers if k.lower() in REPLAYED_HEADERS]
        await self._records.complete(
            request.principal_id,
            request.key_hash,
            status=status,
            headers=kept,
            body=request.seal.seal(body),
        )

    async def abandon(self, request: IdempotentRequest) -> None:
        """The request failed without an answer worth keeping: a retry runs it again."""
        await self._records.release(request.principal_id, request.key_hash)


def _in_flight() -> Conflict:
    return Conflict("A request with this Idempotency-Key is still in progress; retry later.")
