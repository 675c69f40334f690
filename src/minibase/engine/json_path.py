"""JSON paths (``$.items[0].name``, ``items.0.name``) and response mappings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+|\"[^\"]*\"|'[^']*')\]")
MISSING: Any = object()


class PathError(ValueError):
    """The path is malformed."""


def parse_path(path: str) -> tuple[str | int, ...]:
    """The steps of ``path``; ``$`` alone (or ``""``) is the whole value."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise PathError(f"Cannot read the path at {text[pos:]!r}.")
        name, index = match.groups()
        if name is not None:
            steps.append(int(name) if name.isdigit() else name)
        elif index[0] in "\"'":
            steps.append(index[1:-1])
        else:
            steps.append(int(index))
        pos = match.end()
    return tuple(steps)


def lookup(value: Any, path: str, default: Any = MISSING) -> Any:
    """The value at ``path`` in ``value``; ``default`` (or ``None``) where it is missing."""
    current = value
    for step in parse_path(path):
        if isinstance(current, Mapping) and str(step) in current:
            current = current[str(step)]
        elif (
            isinstance(current, list)
            and isinstance(step, int)
            and -len(current) <= step < len(current)
        ):
            current = current[step]
        else:
            return None if default is MISSING else default
    return current


def apply_mapping(value: Any, mapping: Mapping[str, str]) -> dict[str, Any]:
    """``{key: value at path}`` for each ``key: path`` of ``mapping``."""
    return {key: lookup(value, path) for key, path in mapping.items()}
