"""Fast JSON responses: orjson bytes, no ``jsonable_encoder`` on the hot path."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


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
