"""Reading JSON bodies on routes that take documents as they are (flows, outputs).

Those routes keep unknown fields and key order exactly as sent, so they parse the raw
bytes with orjson instead of going through a pydantic model.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from minibase.errors import BadRequest, ValidationFailed


async def read_json_bytes(request: Request) -> bytes:
    """The raw body of a request that must be JSON (400 for another content type)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise BadRequest("The body must be JSON (Content-Type: application/json).")
    return await request.body()


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object: 400 when not JSON, 422 when not an object."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ValidationFailed(
            [{"field": "", "message": "The body must be a JSON object.", "type": "dict_type"}]
        )
    return body


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
