"""The flow document and its entities, as plain JSON values.

A flow document is ``{"name": str, "nodes": [node, ...], "edges": [edge, ...]}``; nodes
and edges are React Flow objects keyed by their client-chosen ``id``. Every module of the
domain passes documents around as these plain dicts so that unknown fields, and their key
order, travel untouched from the request to storage and back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any, Literal

FlowJSON = dict[str, Any]
"""``{"name": str, "nodes": list[Entity], "edges": list[Entity]}``."""

Entity = dict[str, Any]
"""One node or edge: a JSON object with at least a string ``id``."""

EntityKind = Literal["node", "edge"]

COLLECTIONS: tuple[tuple[EntityKind, str], ...] = (("node", "nodes"), ("edge", "edges"))
"""Each entity kind with the document key that holds its list, nodes first."""


def entities(doc: Mapping[str, Any], key: str) -> list[Entity]:
    """The list ``doc[key]`` (``[]`` when absent), e.g. ``entities(doc, "nodes")``."""
    value = doc.get(key)
    return value if isinstance(value, list) else []


def index_by_id(items: Iterable[Entity]) -> dict[str, Entity]:
    """Entities by id, in list order. Assumes a validated list (unique string ids)."""
    return {item["id"]: item for item in items}


_ID = itemgetter("id")
_SOURCE = itemgetter("source")
_TARGET = itemgetter("target")


def entity_ids(items: Iterable[Entity]) -> list[str]:
    """The ids of a list of objects, in order (without a Python-level loop).

    Raises ``KeyError`` or ``TypeError`` when an item is not an object with an ``id``.
    """
    return list(map(_ID, items))


def ends_within(edges: Iterable[Any], node_ids: set[str]) -> bool:
    """Whether every edge is an object whose ``source`` and ``target`` are in ``node_ids``
    (checked without a Python-level loop)."""
    try:
        return node_ids.issuperset(map(_SOURCE, edges)) and node_ids.issuperset(map(_TARGET, edges))
    except (KeyError, TypeError):
        return False
