"""What changed between two versions of a flow: per node, per edge, per field.

``diff_flows(a, b)`` compares two flow documents; ``summarize`` turns the result into the
version ``summary`` counts; ``FlowDiff.to_json()`` is the body of
``GET .../versions/{a}/diff/{b}``::

    {
      "name": {"from": "Old", "to": "New"} | null,
      "nodes": {
        "added":   [<node as in b>, ...],                       # in b's order
        "removed": [<node as in a>, ...],                       # in a's order
        "changed": [                                            # in b's order
          {"id": "n1",
           "changes": [{"field": "position", "from": {"x": 0, "y": 0}, "to": {"x": 5, "y": 0}},
                       {"field": "data.label", "from": "A", "to": "B"},
                       {"field": "width", "to": 120}]}
        ],
        "reordered": false                    # same entities, different order in the list
      },
      "edges": { ...same shape... },
      "summary": {"nodesAdded": 0, "nodesRemoved": 0, "nodesChanged": 1,
                  "edgesAdded": 0, "edgesRemoved": 0, "edgesChanged": 0}
    }

A change's ``field`` is a top-level field of the entity, or ``data.<key>`` when ``data`` is
an object in both versions (so editing one label does not show the whole ``data``); ``from``
is omitted when the field is new in ``b`` and ``to`` when it was removed, so an absent field
is never confused with a JSON ``null``. Equality is JSON equality
(:func:`~minibase.domain.json_values.json_equal`): key order alone is no change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minibase.domain.flow_json import Entity, FlowJSON, entities, index_by_id
from minibase.domain.json_values import MISSING, json_equal


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field (or ``data.<key>``) going from ``before`` to ``after`` (MISSING = absent)."""

    field: str
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field}
        if self.before is not MISSING:
            out["from"] = self.before
        if self.after is not MISSING:
            out["to"] = self.after
        return out


@dataclass(frozen=True, slots=True)
class EntityChange:
    """A node or edge present in both versions whose content differs."""

    id: str
    changes: tuple[FieldChange, ...]

    @property
    def fields(self) -> list[str]:
        return [c.field for c in self.changes]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "changes": [c.to_json() for c in self.changes]}


@dataclass(frozen=True, slots=True)
class EntitiesDiff:
    """The difference between two lists of nodes (or of edges)."""

    added: tuple[Entity, ...]
    removed: tuple[Entity, ...]
    changed: tuple[EntityChange, ...]
    reordered: bool

    @property
    def added_ids(self) -> list[str]:
        return [e["id"] for e in self.added]

    @property
    def removed_ids(self) -> list[str]:
        return [e["id"] for e in self.removed]

    @property
    def changed_fields(self) -> dict[str, list[str]]:
        """Changed entity id -> the fields that changed, e.g. ``{"n1": ["position"]}``."""
        return {c.id: c.fields for c in self.changed}

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.reordered)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [c.to_json() for c in self.changed],
            "reordered": self.reordered,
        }


@dataclass(frozen=True, slots=True)
class FlowDiff:
    """Everything that differs between two flow documents."""

    name: FieldChange | None
    nodes: EntitiesDiff
    edges: EntitiesDiff

    @property
    def is_empty(self) -> bool:
        return self.name is None and self.nodes.is_empty and self.edges.is_empty

    def to_json(self) -> dict[str, Any]:
        """The detailed diff body (shape in the module docstring)."""
        name = None
        if self.name is not None:
            name = {k: v for k, v in self.name.to_json().items() if k != "field"}
        return {
            "name": name,
            "nodes": self.nodes.to_json(),
            "edges": self.edges.to_json(),
            "summary": summarize(self),
        }


def _union_keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """b's keys in b's order, then keys only a has, in a's order."""
    return [*b, *(k for k in a if k not in b)]


def entity_changes(a: Entity, b: Entity) -> tuple[FieldChange, ...]:
    """The field changes from ``a`` to ``b`` (``data`` expanded by key when both are objects)."""
    if json_equal(a, b):
        return ()  # the common case, decided by one comparison of the whole entity
    changes: list[FieldChange] = []
    for key in _union_keys(a, b):
        before, after = a.get(key, MISSING), b.get(key, MISSING)
        if json_equal(before, after):
            continue
        if key == "data" and isinstance(before, dict) and isinstance(after, dict):
            for sub in _union_keys(before, after):
                old, new = before.get(sub, MISSING), after.get(sub, MISSING)
                if not json_equal(old, new):
                    changes.append(FieldChange(f"data.{sub}", old, new))
        else:
            changes.append(FieldChange(key, before, after))
    return tuple(changes)


def _diff_entities(a: list[Entity], b: list[Entity]) -> EntitiesDiff:
    by_a, by_b = index_by_id(a), index_by_id(b)
    changed = []
    for ident, entity in by_b.items():
        before = by_a.get(ident)
        if before is not None and before is not entity:
            changes = entity_changes(before, entity)
            if changes:
                changed.append(EntityChange(ident, changes))
    common_a = [x for x in by_a if x in by_b]
    common_b = [x for x in by_b if x in by_a]
    return EntitiesDiff(
        added=tuple(e for i, e in by_b.items() if i not in by_a),
        removed=tuple(e for i, e in by_a.items() if i not in by_b),
        changed=tuple(changed),
        reordered=common_a != common_b,
    )


def diff_flows(a: FlowJSON, b: FlowJSON) -> FlowDiff:
    """What changed from flow document ``a`` to ``b`` (valid documents, ids unique)."""
    before, after = a.get("name", MISSING), b.get("name", MISSING)
    return FlowDiff(
        name=None if json_equal(before, after) else FieldChange("name", before, after),
        nodes=_diff_entities(entities(a, "nodes"), entities(b, "nodes")),
        edges=_diff_entities(entities(a, "edges"), entities(b, "edges")),
    )


def summarize(diff: FlowDiff) -> dict[str, int]:
    """The counts stored as a version's ``summary``."""
    return summary_of(
        nodes=(len(diff.nodes.added), len(diff.nodes.removed), len(diff.nodes.changed)),
        edges=(len(diff.edges.added), len(diff.edges.removed), len(diff.edges.changed)),
    )


def summary_of(*, nodes: tuple[int, int, int], edges: tuple[int, int, int]) -> dict[str, int]:
    """A version's ``summary`` from (added, removed, changed) counts per kind."""
    return {
        f"{key}{what}": n
        for key, counts in (("nodes", nodes), ("edges", edges))
        for what, n in zip(("Added", "Removed", "Changed"), counts, strict=True)
    }
