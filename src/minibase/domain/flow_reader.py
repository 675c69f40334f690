"""Reading a save's body against a version we hold, parsing only what changed in it.

An editor saves the whole flow every time, and most of it is what the server already
holds: a hundred nodes sent back byte for byte, one of them moved. Parsing all of it
(thousands of Python objects) is the largest single cost of a save, and the objects would
be thrown away at once by interning (``domain/flow_index``), which swaps every untouched
entity for the known one anyway.

:func:`read_against` reads the body's ``nodes`` and ``edges`` arrays by comparing their
bytes with a known version's (``Listing.joined``, compact JSON as orjson writes it and as
``JSON.stringify`` sends it): the runs that match are that version's objects, taken as
they are; only the entities that differ are parsed. The rest of the body (``baseVersion``,
``name``...) is parsed with the two arrays replaced by placeholders, which also proves
that the arrays found are the body's top-level ``nodes`` and ``edges``. Every guess is
verified, and anything unexpected (pretty-printed JSON, non-ASCII text, invalid JSON, a
duplicate key) answers ``None``: the caller then parses the whole body as usual, so the
result, and every error, is the same as without this path.
"""

from __future__ import annotations

import json
import secrets
from bisect import bisect_right
from typing import Any

import orjson

from minibase.domain.flow_index import IndexedFlow, Listing
from minibase.domain.flow_json import COLLECTIONS
from minibase.domain.trusted import Trusted

_PLACEHOLDER = secrets.token_hex(16)
"""Stands for an array while the rest of a body is parsed (random: no body can hold it)."""

MAX_PARSED = 16
"""Changed entities parsed one by one in a list, at most; past that, parsing the whole
body at once is cheaper (the standard library's scanner finds each one's end)."""

_scan_value = json.JSONDecoder().raw_decode
_COMMA, _CLOSE = ord(","), ord("]")


def read_against(raw: bytes, known: IndexedFlow) -> tuple[dict[str, Any], Trusted] | None:
    """The JSON object ``raw``, its ``nodes`` and ``edges`` sharing ``known``'s objects
    wherever their bytes are ``known``'s, and every object so taken
    (valid already); ``None`` when the body is not read this way (see module doc)."""
    if not raw.isascii() or _PLACEHOLDER.encode() in raw:
        return None
    trusted = Trusted()
    found: list[tuple[int, int, str, list[Any]]] = []
    for _, key in COLLECTIONS:
        marker = b'"' + key.encode() + b'":'
        at = raw.find(marker)
        if at < 0:
            return None
        start = at + len(marker)
        read = _read_list(raw, start, known.lists[key], trusted)
        if read is None:
            return None
        items, end = read
        found.append((start, end, key, items))
    found.sort()
    (start_a, end_a, key_a, _), (start_b, end_b, key_b, _) = found
    if end_a > start_b:
        return None
    rest = b"".join(
        (
            raw[:start_a],
            _placeholder(key_a),
            raw[end_a:start_b],
            _placeholder(key_b),
            raw[end_b:],
        )
    )
    try:
        body = orjson.loads(rest)
    except orjson.JSONDecodeError:
        return None
    if type(body) is not dict:
        return None
    for _, _, key, items in found:
        # A placeholder that is not the top-level value (a nested "nodes" key was found
        # first, or the key is repeated) leaves something else there.
        if body.get(key) != f"{_PLACEHOLDER}{key}":
            return None
        body[key] = items
    return body, trusted


def _placeholder(key: str) -> bytes:
    return b'"' + _PLACEHOLDER.encode() + key.encode() + b'"'


def _read_list(
    raw: bytes, start: int, known: Listing, trusted: Trusted
) -> tuple[list[Any], int] | None:
    """The array at ``raw[start]`` and where it ends, or ``None``."""
    joined = known.joined
    if raw.startswith(joined, start):
        trusted.update(known.items)
        return list(known.items), start + len(joined)
    if raw[start : start + 1] != b"[":
        return None
    view = memoryview(joined)
    items: list[Any] = []
    pos = start + 1
    expected = 0  # the known entity we expect next
    parsed = 0
    text: str | None = None
    while pos < len(raw):
        if raw[pos] == _CLOSE:
            return items, pos + 1
        if items:
            if raw[pos] != _COMMA:
                return None
            pos += 1
        run = _known_run(raw, pos, known, view, expected)
        if run is not None:
            first, stop = run
            taken = known.items[first:stop]
            items += taken
            trusted.update(taken)
            pos += known.ends[stop - 1] - known.starts[first]
            expected = stop
            continue
        parsed += 1
        if parsed > MAX_PARSED:
            return None
        if text is None:
            text = raw.decode("ascii")
        try:
            _, stop = _scan_value(text, pos)
            chunk = raw[pos:stop]
            value = orjson.loads(chunk)  # orjson decides what is valid, as on every path
        except (ValueError, orjson.JSONDecodeError):
            return None
        ident = value.get("id") if type(value) is dict else None
        if type(ident) is str and (twin := known.index.get(ident)) is not None:
            if twin[1] == chunk:
                value = twin[0]
                trusted.add(value)
            position = known.ids.index(ident)
            if position >= expected:
                expected = position + 1
        items.append(value)
        pos = stop
    return None


def _known_run(
    raw: bytes, pos: int, known: Listing, view: memoryview, expected: int
) -> tuple[int, int] | None:
    """The known entities ``[first, stop)`` that ``raw`` holds from ``pos`` on, byte for
    byte, starting with the one expected next (or the one after it: a deletion).

    Entities inside the common prefix of ``raw[pos:]`` and the known list from ``first``
    on are known's: each matches at its offset, and a balanced JSON value that matches
    there ends there too.
    """
    for first in (expected, expected + 1):
        if first >= len(known.items):
            return None
        offset = known.starts[first]
        matched = _common_prefix_at(raw, pos, view[offset:])
        stop = bisect_right(known.ends, offset + matched)
        if stop > first:
            return first, stop
    return None


def _common_prefix_at(raw: bytes, start: int, known: memoryview) -> int:
    """The length of the longest common prefix of ``raw[start:]`` and ``known``
    (bisection, each step one ``memcmp``)."""
    low, high = 0, min(len(raw) - start, len(known))
    while low < high:
        middle = (low + high + 1) // 2
        if raw.startswith(known[:middle], start):
            low = middle
        else:
            high = middle - 1
    return low
