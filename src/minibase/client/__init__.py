"""The Python SDK of Minibase: ``Client`` (sync) and ``AsyncClient`` (asyncio).

It imports nothing of the server; see docs/sdk.md.
"""

from minibase.client.async_client import AsyncClient
from minibase.client.core import Retry
from minibase.client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    MinibaseClientError,
    NetworkError,
    NotFound,
    PayloadTooLarge,
    PreconditionRequired,
    QuotaExceeded,
    RateLimited,
    ServerError,
    Unauthenticated,
    ValidationError,
    VersionConflict,
)
from minibase.client.live import Subscription, SyncSubscription
from minibase.client.sync_client import Client

__all__ = [
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "Forbidden",
    "MinibaseClientError",
    "NetworkError",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionRequired",
    "QuotaExceeded",
    "RateLimited",
    "Retry",
    "ServerError",
    "Subscription",
    "SyncSubscription",
    "Unauthenticated",
    "ValidationError",
    "VersionConflict",
]
