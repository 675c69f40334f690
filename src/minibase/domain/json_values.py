"""Comparing JSON values the way a JSON client sees them.

Flow documents arrive as parsed JSON, so two values are "the same" when they would mean the
same thing to the TypeScript front end: object key order does not matter, ``1`` and
``1.0`` are the same number, but ``true`` is not ``1`` (Python's ``True == 1`` would
otherwise make a toggled boolean look unchanged to a merge or a diff).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final

import orjson

from minibase.errors import BadRequest, ValidationFailed


class Missing(Enum):
    """The type of :data:`MISSING`."""

    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = Missing.MISSING
"""Marks a key or entity that is absent (distinct from a JSON ``null`` value)."""


def json_equal(a: Any, b: Any) -> bool:
    """Whether two parsed JSON values are equal in JSON terms (see the module docstring)."""
    if a is b:
        return True
    if isinstance(a, dict | list) and type(a) is type(b):
        # Fast path: identical serializations are equal; only differing ones (rare: a
        # changed entity, or the same keys in another order) need the walk below.
        try:
            if orjson.dumps(a) == orjson.dumps(b):
                return True
        except orjson.JSONEncodeError:
            pass
    return _walk_equal(a, b)


def _walk_equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    # bool is a subclass of int: compare it only with bools.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        return all(k in b and _walk_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(_walk_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


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
