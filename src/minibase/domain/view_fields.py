"""React Flow's view-only fields: what one viewer's screen shows, not what the flow is.

``selected``, ``dragging`` and ``resizing`` on a node or an edge describe one person's
canvas at one moment. They are dropped from every document the server stores (REST
create, ``PUT``, ``PATCH``, collaborative edits), so a change of only those fields leaves
the flow as it was and makes no version. Everything else a client sends is kept as given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

VIEW_FIELDS = frozenset({"selected", "dragging", "resizing"})


def without_view_fields(entity: Any) -> Any:
    """``entity`` without its view-only fields (the very object when it has none)."""
    if isinstance(entity, dict) and not VIEW_FIELDS.isdisjoint(entity):
        return {k: v for k, v in entity.items() if k not in VIEW_FIELDS}
    return entity


def drop_view_fields(items: list[Any], indexes: Iterable[int]) -> list[Any]:
    """``items`` with the view-only fields of ``items[i]`` (``i`` in ``indexes``) dropped:
    the same list when none had any, else a copy (the given list is never modified)."""
    out = items
    for index in indexes:
        stripped = without_view_fields(items[index])
        if stripped is not items[index]:
            if out is items:
                out = list(items)
            out[index] = stripped
    return out
