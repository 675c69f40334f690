"""One exception tree for everything the SDK raises.

:class:`ApiError` and its subclasses are the contract's error answers
(``{"error": {"code", "message", "details"}}``); the class is chosen by ``code``, then by
status. :class:`NetworkError` is a request that never got an answer, retries included.
"""

from __future__ import annotations

import contextlib
from typing import Any


class MinibaseClientError(Exception):
    """The root: catch this to catch everything the SDK raises."""


class NetworkError(MinibaseClientError):
    """No answer from the server after every retry (connection refused, reset, timeout)."""


class ApiError(MinibaseClientError):
    """An error answer of the API."""

    status: int = 0
    default_code: str = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = details or {}
        if status is not None:
            self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


class BadRequest(ApiError):
    status, default_code = 400, "bad_request"


class Unauthenticated(ApiError):
    status, default_code = 401, "unauthenticated"


class Forbidden(ApiError):
    status, default_code = 403, "forbidden"


class QuotaExceeded(Forbidden):
    """``details``: ``{quota, limit, used, requested}``."""

    default_code = "quota_exceeded"


class NotFound(ApiError):
    status, default_code = 404, "not_found"


class Conflict(ApiError):
    status, default_code = 409, "conflict"


class VersionConflict(Conflict):
    """``details.currentVersion``: the flow's version now."""

    default_code = "version_conflict"


class PayloadTooLarge(ApiError):
    status, default_code = 413, "payload_too_large"


class ValidationError(ApiError):
    """``details.fields`` lists the invalid fields."""

    status, default_code = 422, "validation_error"


class PreconditionRequired(ApiError):
    status, default_code = 428, "precondition_required"


class RateLimited(ApiError):
    status, default_code = 429, "rate_limited"

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait (the ``Retry-After`` header), when the server said."""
        value = self.details.get("retryAfter")
        return float(value) if isinstance(value, int | float) else None


class ServerError(ApiError):
    status, default_code = 500, "internal_error"


_BY_CODE: dict[str, type[ApiError]] = {
    cls.default_code: cls
    for cls in (
        BadRequest,
        Unauthenticated,
        Forbidden,
        QuotaExceeded,
        NotFound,
        Conflict,
        VersionConflict,
        PayloadTooLarge,
        ValidationError,
        PreconditionRequired,
        RateLimited,
    )
}
_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationError,
    428: PreconditionRequired,
    429: RateLimited,
}


def error_class(status: int, code: str | None) -> type[ApiError]:
    """The class for an answer: by ``code`` first, then by status, else the base class."""
    if code is not None and code in _BY_CODE and _BY_CODE[code].status in (status, 0):
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else ApiError


def api_error(
    status: int, body: Any, request_id: str | None, retry_after: str | None = None
) -> ApiError:
    """Build the exception for an error answer (any body: a proxy's HTML page too)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = str(error.get("message") or f"HTTP {status}")
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
    else:
        code, message, details = None, f"HTTP {status} without the API's error body", {}
    details = dict(details or {})
    if retry_after is not None and "retryAfter" not in details:
        with contextlib.suppress(ValueError):
            details["retryAfter"] = float(retry_after)
    cls = error_class(status, code)
    return cls(message, code=code, details=details, status=status, request_id=request_id)


def socket_error(error: Any) -> ApiError:
    """The exception for a live query's ``{"type": "error", "error": {code, message}}``."""
    payload = error if isinstance(error, dict) else {}
    code = payload.get("code") if isinstance(payload.get("code"), str) else None
    cls = _BY_CODE.get(code or "", ApiError)
    details = payload.get("details") if isinstance(payload.get("details"), dict) else {}
    return cls(str(payload.get("message") or "live query error"), code=code, details=details)
