"""The one exception tree of Minibase.

Every class knows its HTTP status and its contract error code; the app turns any of them
into ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class MinibaseError(Exception):
    """Base of every error Minibase raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Internal server error."

    def __init__(
        self,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.audited = False
        """True once the refusal is in its org's audit log (so it is not recorded twice)."""
        self.details: dict[str, Any] = details or {}
        self.headers: dict[str, str] = headers or {}
        super().__init__(self.message)

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(MinibaseError):
    status = 400
    code = "bad_request"
    default_message = "The request is malformed."


class Unauthenticated(MinibaseError):
    status = 401
    code = "unauthenticated"
    default_message = "A valid token is required."


class Forbidden(MinibaseError):
    status = 403
    code = "forbidden"
    default_message = "Your role does not allow this."


class QuotaExceeded(MinibaseError):
    status = 403
    code = "quota_exceeded"
    default_message = "A plan limit would be exceeded."

    def __init__(self, quota: str, limit: Any, used: Any, requested: Any) -> None:
        super().__init__(
            f"Quota {quota} would be exceeded ({used} used, {requested} requested, limit {limit}).",
            {"quota": quota, "limit": limit, "used": used, "requested": requested},
        )


class NotFound(MinibaseError):
    status = 404
    code = "not_found"
    default_message = "No such object."


class MethodNotAllowed(MinibaseError):
    status = 405
    code = "method_not_allowed"
    default_message = "This method is not allowed here."


class RequestTimeout(MinibaseError):
    """The client did not send its headers or body in time (``http/server_limits.py``)."""

    status = 408
    code = "request_timeout"
    default_message = "The request was not received in time."


class Conflict(MinibaseError):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class VersionConflict(MinibaseError):
    status = 409
    code = "version_conflict"
    default_message = "The base version is stale and could not be merged."


class PayloadTooLarge(MinibaseError):
    status = 413
    code = "payload_too_large"
    default_message = "The request or document is too large."


class ValidationFailed(MinibaseError):
    status = 422
    code = "validation_error"
    default_message = "Some fields are invalid."

    def __init__(self, fields: list[dict[str, Any]], message: str | None = None) -> None:
        super().__init__(message, {"fields": fields})


class InvalidArchive(MinibaseError):
    """A backup or export archive that is truncated, tampered with or undecryptable."""

    status = 422
    code = "invalid_archive"
    default_message = "The archive is truncated, damaged or cannot be decrypted."


class UnsupportedFormat(MinibaseError):
    """An archive (or requested format) this release cannot read or write."""

    status = 422
    code = "unsupported_format"
    default_message = "This format or format version is not supported."


class PreconditionRequired(MinibaseError):
    status = 428
    code = "precondition_required"
    default_message = "A precondition is required."


class RateLimited(MinibaseError):
    status = 429
    code = "rate_limited"
    default_message = "Too many requests; retry later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            message, {"retryAfter": retry_after}, headers={"Retry-After": str(retry_after)}
        )


class ServiceUnavailable(MinibaseError):
    status = 503
    code = "unavailable"
    default_message = "A backing service is unavailable."


class StartupError(MinibaseError):
    """A problem that stops ``minibase serve`` before it listens (reported in one line)."""


class Undecryptable(MinibaseError):
    """Data at rest that does not decrypt: its org's data key is gone (shredded) or does
    not unwrap under this instance's master keys, or the value was moved or altered."""

    status = 500
    code = "undecryptable"
    default_message = "Stored data could not be decrypted."
