"""What the sync and async clients share: request building, retries, answers."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from minibase.client.calls import Call
from minibase.client.errors import ApiError, Conflict, NetworkError, api_error

DEFAULT_URL = "http://127.0.0.1:8000"
USER_AGENT = "minibase-python"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
FINISHED = frozenset({"succeeded", "failed", "canceled", "timed_out"})
"""Run statuses after which a run changes no more."""


@dataclass(frozen=True)
class Retry:
    """How calls are retried.

    Any call is retried on a network error (connection refused or reset, timeout) and on
    429/502/503/504 answers; a write keeps the ``Idempotency-Key`` it was first sent with,
    so the server runs it at most once. Waits grow exponentially with full jitter, and a
    ``Retry-After`` up to ``max_retry_after`` seconds is honoured.
    """

    attempts: int = 4
    backoff: float = 0.2
    max_backoff: float = 5.0
    max_retry_after: float = 10.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return retry_after
        return random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))


@dataclass(frozen=True)
class Prepared:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None
    params: dict[str, Any]


def prepare(call: Call[Any], token: str | None) -> Prepared:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if call.auth and token:
        headers["Authorization"] = f"Bearer {token}"
    if call.is_write:
        headers["Idempotency-Key"] = "sdk_" + secrets.token_urlsafe(18)
    content = None
    if call.json is not None:
        content = orjson.dumps(call.json)
        headers["Content-Type"] = "application/json"
    return Prepared(call.method, call.path, headers, content, call.params)


def request_id(response: httpx.Response) -> str | None:
    value = response.headers.get("x-request-id")
    return str(value) if value is not None else None


def retry_after(response: httpx.Response, policy: Retry) -> float | None:
    """Seconds the server asked to wait, or ``None`` if absent or too long to honour."""
    value = response.headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds <= policy.max_retry_after else None


def should_retry(response: httpx.Response, policy: Retry, *, after_network_error: bool) -> bool:
    if response.status_code in RETRY_STATUSES:
        return response.status_code != 429 or retry_after(response, policy) is not None
    # The first try may still be running when its retry arrives (the key is "in flight").
    return after_network_error and response.status_code == 409 and _in_flight(response)


def _in_flight(response: httpx.Response) -> bool:
    try:
        error = api_error(409, orjson.loads(response.content), None)
    except orjson.JSONDecodeError:
        return False
    return isinstance(error, Conflict) and "in progress" in error.message


def answer(response: httpx.Response) -> Any:
    """The JSON of a 2xx answer (``None`` for an empty one), else raise its error."""
    if response.is_success:
        if response.status_code == 204 or not response.content:
            return None
        return orjson.loads(response.content)
    raise error_of(response)


def error_of(response: httpx.Response) -> ApiError:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    return api_error(
        response.status_code, body, request_id(response), response.headers.get("retry-after")
    )


def network_error(call: Call[Any], error: httpx.TransportError, attempts: int) -> NetworkError:
    return NetworkError(
        f"{call.method} {call.path}: no answer after {attempts} attempts ({error!r})"
    )


def next_cursor(page: Any) -> str | None:
    cursor = page.get("nextCursor") if isinstance(page, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None


def items_of(page: Any) -> list[Any]:
    items = page.get("items") if isinstance(page, dict) else None
    return items if isinstance(items, list) else []


def with_cursor(call: Call[Any], cursor: str | None, limit: int | None) -> Call[Any]:
    params = dict(call.params)
    if cursor is not None:
        params["cursor"] = cursor
    if limit is not None:
        params["limit"] = limit
    return Call(call.method, call.path, call.json, params, call.auth)
