"""The node types a deployment knows: the built-ins plus entry-point plugins.

A plugin package declares, in its metadata::

    [project.entry-points."minibase.nodes"]
    my_types = "my_package.nodes:NODE_TYPES"

where the object is a :class:`~minibase.engine.node_types.NodeType`, a sequence of them,
or a function returning either. A plugin that fails to load, or whose objects are not
node types, is logged and left out: it never stops a server or a worker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from minibase.engine.builtins import BUILTINS
from minibase.engine.node_types import NodeType

ENTRY_POINT_GROUP = "minibase.nodes"

log = logging.getLogger("minibase.engine")


class NodeRegistry:
    """Node types by name."""

    def __init__(self, types: Iterable[NodeType] = ()) -> None:
        self._types: dict[str, NodeType] = {}
        for node_type in types:
            self.add(node_type)

    def add(self, node_type: NodeType) -> None:
        self._types[node_type.type] = node_type

    def get(self, name: str) -> NodeType | None:
        return self._types.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[NodeType]:
        return iter(sorted(self._types.values(), key=lambda t: (t.category, t.type)))

    @classmethod
    def default(cls) -> NodeRegistry:
        """The built-ins and every installed plugin (plugins cannot replace a built-in)."""
        registry = cls(BUILTINS)
        for node_type in load_plugins():
            if node_type.type in registry:
                log.warning("node type plugin ignored: %s is already defined", node_type.type)
                continue
            registry.add(node_type)
        return registry


def _flatten(value: Any) -> list[NodeType]:
    if isinstance(value, NodeType):
        return [value]
    if callable(value):
        return _flatten(value())
    if isinstance(value, list | tuple):
        out: list[NodeType] = []
        for item in value:
            out.extend(_flatten(item))
        return out
    raise TypeError(f"{type(value).__name__} is not a NodeType")


def _load(entry: EntryPoint) -> list[NodeType]:
    try:
        return _flatten(entry.load())
    except Exception:
        log.warning("node type plugin %s failed to load", entry.name, exc_info=True)
        return []


def load_plugins() -> list[NodeType]:
    """Every node type of the ``minibase.nodes`` entry points installed now."""
    found: list[NodeType] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.extend(_load(entry))
    return found
