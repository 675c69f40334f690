"""Fast JSON responses: orjson bytes, no ``jsonable_encoder`` on the hot path."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Send

from minibase.errors import MinibaseError


class JSONBytes(Response):
    """A JSON response serialized with orjson (``content`` may already be bytes)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content)


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> JSONBytes:
    return JSONBytes(content, status_code=status_code, headers=headers)


async def send_error(
    send: Send, error: MinibaseError, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """The contract's error JSON for ``error``, sent on the raw ASGI channel: for the
    middleware that answers before (or instead of) the app; ``headers`` follow the
    content type and length."""
    body = orjson.dumps(error.to_body())
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
