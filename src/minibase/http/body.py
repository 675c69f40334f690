"""Reading JSON bodies on routes that take documents as they are (flows, outputs).

Those routes keep unknown fields and key order exactly as sent, so they parse the raw
bytes with orjson instead of going through a pydantic model.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from minibase.domain.json_values import parse_json_object
from minibase.errors import BadRequest

__all__ = ["json_schema_body", "parse_json_object", "read_json_bytes", "read_json_object"]


async def read_json_bytes(request: Request) -> bytes:
    """The raw body of a request that must be JSON (400 for another content type)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise BadRequest("The body must be JSON (Content-Type: application/json).")
    return await request.body()


async def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object: 400 when not JSON, 422 when not an object."""
    return parse_json_object(await read_json_bytes(request))


def json_schema_body(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body read by :func:`read_json_object`."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }
