"""Cursor pagination shared by every list: ``{"items": [...], "nextCursor": ...}``.

A cursor is the opaque, URL-safe encoding of the sort key of the last item returned; the
next page starts strictly after it, so pages stay stable while rows are added.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import Select, literal, tuple_
from sqlalchemy.sql import ColumnElement

from minibase.errors import ValidationFailed


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The sort key inside ``cursor`` (``None`` for the first page); 422 when malformed."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        key = None
    if not isinstance(key, list) or len(key) != arity:
        raise ValidationFailed(
            [{"field": "cursor", "message": "Malformed cursor.", "type": "cursor"}]
        )
    return key


def page(
    rows: Sequence[Any],
    limit: int,
    *,
    render: Callable[[Any], Any],
    key: Callable[[Any], list[Any]],
) -> dict[str, Any]:
    """Build a page from up to ``limit + 1`` fetched rows (the extra one means "more")."""
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(key(rows[-1])) if more and rows else None
    return {"items": [render(r) for r in rows], "nextCursor": next_cursor}


def keyset(
    stmt: Select[Any],
    columns: Sequence[ColumnElement[Any]],
    cursor: str | None,
    limit: int,
    *,
    descending: bool = False,
) -> Select[Any]:
    """``stmt`` ordered by ``columns``, starting just after ``cursor``, one row past ``limit``.

    The cursor's values must have the columns' types (a malformed cursor is a 422, never
    a database error).
    """
    after = decode_cursor(cursor, len(columns))
    if after is not None:
        for column, value in zip(columns, after, strict=True):
            expected = column.type.python_type
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ValidationFailed(
                    [{"field": "cursor", "message": "Malformed cursor.", "type": "cursor"}]
                )
        key, bound = tuple_(*columns), tuple_(*[literal(v) for v in after])
        stmt = stmt.where(key < bound if descending else key > bound)
    order = [column.desc() for column in columns] if descending else list(columns)
    return stmt.order_by(*order).limit(limit + 1)
