"""Entities known to be valid on their own, held by identity.

A save's body is mostly the version it edits, sent back byte for byte: reading it against
that version (``domain/flow_reader``) or interning it (``domain/flow_index``) makes those
entities the stored version's very objects, which were validated when it was saved.
Validation (``domain/flow_graph``) then checks only the others, plus the place of every
entity in the new document (unique ids, edge ends).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


class Trusted:
    """A set of objects by identity (not by value: an equal object built from a request
    is not trusted). It holds them, so no identity can be reused while it lives."""

    __slots__ = ("_by_id",)

    def __init__(self, entities: Iterable[Any] = ()) -> None:
        self._by_id: dict[int, Any] = {}
        self.update(entities)

    def add(self, entity: Any) -> None:
        self._by_id[id(entity)] = entity

    def update(self, entities: Iterable[Any]) -> None:
        items = entities if isinstance(entities, list | tuple) else list(entities)
        self._by_id.update(zip(map(id, items), items, strict=True))

    def flags(self, items: Iterable[Any]) -> Iterator[bool]:
        """Whether each of ``items`` is trusted, in order (computed in C)."""
        return map(self._by_id.__contains__, map(id, items))

    def __contains__(self, entity: Any) -> bool:
        return id(entity) in self._by_id

    def __iter__(self) -> Iterator[Any]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __repr__(self) -> str:
        return f"Trusted({len(self._by_id)} entities)"


NOTHING_TRUSTED = Trusted()
"""Trusts nothing (never add to it)."""
