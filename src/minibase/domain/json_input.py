"""JSON that its parser accepts but no database or serializer can hold, found in the raw bytes.

Used at every door where JSON comes in: the HTTP input guard (``http/input_guard``) for
request bodies, and organization import for the JSON lines of an archive. What is refused:
a NUL character (``\\u0000``) or a lone UTF-16 surrogate (``\\ud800``) in any string or
key, an integer beyond 64 bits (outside :data:`MIN_JSON_INT` .. :data:`MAX_JSON_INT`:
a parser would make an inexact float of it, the serializer refuse it later), nesting
deeper than :data:`MAX_JSON_DEPTH`. The checks cost a few byte scans in C: the slow,
exact walk runs only when a scan finds a candidate (see :func:`json_problem`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from minibase.errors import MinibaseError, ValidationFailed

MAX_JSON_DEPTH = 254
"""Deepest JSON nesting accepted in a body: what the server can serialize again."""

MIN_JSON_INT = -(2**63)
MAX_JSON_INT = 2**64 - 1
"""The integers a JSON body may hold: what the serializer writes back exactly."""

_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_LONG_NUMBER = re.compile(rb"[0-9]{19}")
"""19 digits in a row: the shortest text of an integer that may be beyond 64 bits."""
_BRACKETS = bytes.maketrans(b"[]{}", b"()()")
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _field(path: list[str], message: str, kind: str) -> ValidationFailed:
    field = ".".join(path)
    return ValidationFailed([{"field": field, "message": message, "type": kind}], message)


def _bad_string(value: str) -> str | None:
    if "\x00" in value:
        return "NUL characters are not allowed."
    if _SURROGATE.search(value):
        return "Lone UTF-16 surrogates are not allowed."
    return None


def _out_of_range(path: list[str]) -> ValidationFailed:
    return _field(path, "Integers must lie within 64 bits.", "out_of_range")


def _walk(value: Any, path: list[str]) -> ValidationFailed | None:
    """The first string, key or integer in ``value`` that no database can store, if any."""
    stack: list[tuple[Any, list[str]]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, int) and not isinstance(item, bool):
            if not MIN_JSON_INT <= item <= MAX_JSON_INT:
                return _out_of_range(where)
        elif isinstance(item, str):
            problem = _bad_string(item)
            if problem:
                return _field(where, problem, "invalid_character")
        elif isinstance(item, dict):
            for key, child in item.items():
                problem = _bad_string(key)
                if problem:
                    return _field(
                        [*where, key.encode("utf-8", "replace").decode()],
                        problem,
                        "invalid_character",
                    )
                stack.append((child, [*where, key]))
        elif isinstance(item, list):
            stack.extend((child, [*where, str(i)]) for i, child in enumerate(item))
    return None


def _too_deep(body: bytes) -> bool:
    """Whether the brackets of ``body`` nest deeper than :data:`MAX_JSON_DEPTH`.

    Brackets inside strings are counted too, so a string can only make a body look
    deeper than it is; the caller confirms with a real parse. (A body that hides its
    depth behind brackets in strings is still refused where it is serialized again: see
    ``http/errors.py``.)
    """
    brackets = body.translate(_BRACKETS, _NOT_BRACKETS)
    if len(brackets) <= MAX_JSON_DEPTH:
        return False
    for _ in range(MAX_JSON_DEPTH):
        shorter = brackets.replace(b"()", b"")
        if not shorter or shorter == brackets:
            return False
        brackets = shorter
    return True


def _depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def json_problem(body: bytes) -> MinibaseError | None:
    """What is wrong with a JSON body that its own parser would accept, or None.

    Bodies that are not JSON at all are left to the route (400 there).
    """
    suspect = _SUSPECT.search(body) is not None
    long_number = _LONG_NUMBER.search(body) is not None
    deep = _too_deep(body)
    if not (suspect or long_number or deep):
        return None
    try:
        # The standard library keeps lone surrogates (orjson refuses them outright) and
        # integers of any size (orjson makes floats of those beyond 64 bits).
        value = json.loads(body)
    except RecursionError:
        return _field([], f"JSON nested deeper than {MAX_JSON_DEPTH} levels.", "too_deep")
    except ValueError:
        if long_number and _is_json_text(body):
            # Valid JSON all the same: an integer longer than Python converts.
            return _out_of_range([])
        return None
    if deep and _depth(value) > MAX_JSON_DEPTH:
        return _field([], f"JSON nested deeper than {MAX_JSON_DEPTH} levels.", "too_deep")
    return _walk(value, []) if (suspect or long_number) else None


def _is_json_text(body: bytes) -> bool:
    """Whether ``body`` is JSON once its integers are read as floats."""
    try:
        json.loads(body, parse_int=float)
    except (ValueError, RecursionError):
        return False
    return True
