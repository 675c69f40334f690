"""Three-way merge of flow documents, so a stale save never silently overwrites work.

``merge_flows(base, current, incoming)`` combines what happened since ``base`` on the
server (``current``) with what the request brings (``incoming``), at the level of single
nodes and edges (by id), their top-level fields, and the individual keys of ``data``.

Rules, per node or edge:

- added on one side only: kept; added on both sides: merged field by field as if the base
  had been an empty object;
- deleted on one side, untouched on the other: deleted;
- deleted on one side, modified on the other: the modified one is kept (no lost work) and
  a conflict is reported;
- a field (or a key of ``data``) changed on one side only: that change is taken;
- changed on both sides to the same value: taken, no conflict;
- changed on both sides to different values: the request (``incoming``) wins and a
  conflict is reported. ``data`` is merged key by key when it is an object on every side
  that has it; other fields (``position`` included) are compared as whole values.

The flow ``name`` follows the same rule; an ``incoming`` without ``name`` leaves it
untouched. Afterwards, edges whose ``source`` or ``target`` no longer exists are dropped
and listed in ``dropped_edges``.

Each conflict is a JSON object::

    {"kind": "node" | "edge" | "flow", "id": str | None, "field": str | None,
     "current": ..., "incoming": ..., "resolution": "incoming" | "current"}

``field`` is a top-level field (``"position"``), a ``data`` key (``"data.label"``),
``"name"`` (with ``kind`` ``"flow"`` and ``id`` ``None``), or ``None`` when a whole entity
was deleted on one side and modified on the other; ``current``/``incoming`` hold that
side's value (the whole entity when ``field`` is ``None``) and are *omitted* where that side
has no such field or entity (so an absent value is not confused with JSON ``null``).
``resolution`` says whose value the result holds.

Order of the result's nodes (and of its edges): when one side kept the base's order of ids
exactly, the other side's order is taken; otherwise the side that reordered the entities it
shares with the base leads (``current`` if both or neither did). Survivors the leading side
lacks are placed just before the entity they preceded on their side, or at the end (so new
entities of the request come after the server's). Within a merged entity, keys follow
``current``'s order, then keys new in ``incoming``. This makes ``merge(b, b, x) == x`` and
``merge(b, x, b) == x`` hold exactly, order included.

Inputs are assumed valid (see :mod:`minibase.domain.flow_graph`); the result shares
unchanged nested values with them, so treat all of them as immutable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import compress, count
from operator import is_not
from typing import Any, Literal

from minibase.domain.flow_json import (
    COLLECTIONS,
    Entity,
    EntityKind,
    FlowJSON,
    ends_within,
    entities,
    entity_ids,
)
from minibase.domain.json_values import MISSING, json_equal

Side = Literal["current", "incoming"]
ConflictKind = Literal["node", "edge", "flow"]


@dataclass(slots=True)
class MergeResult:
    """The merged document, what both sides changed differently, and edges left dangling."""

    flow_doc: FlowJSON
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    dropped_edges: list[str] = field(default_factory=list)


def _conflict(
    kind: ConflictKind,
    ident: str | None,
    field_name: str | None,
    current: Any,
    incoming: Any,
    resolution: Side,
) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind, "id": ident, "field": field_name}
    if current is not MISSING:
        out["current"] = current
    if incoming is not MISSING:
        out["incoming"] = incoming
    out["resolution"] = resolution
    return out


def _merge_value(base: Any, current: Any, incoming: Any) -> tuple[Any, bool]:
    """Three-way merge of one value (MISSING = absent): (result, both changed differently)."""
    if json_equal(current, incoming) or json_equal(current, base):
        return incoming, False
    if json_equal(incoming, base):
        return current, False
    return incoming, True


def _merge_mapping(
    base: dict[str, Any],
    current: dict[str, Any],
    incoming: dict[str, Any],
    on_conflict: list[tuple[str, Any, Any]],
    nested: frozenset[str] = frozenset(),
    prefix: str = "",
) -> dict[str, Any]:
    """Merge three objects key by key; keys in ``nested`` that are objects recurse once."""
    out: dict[str, Any] = {}
    # Base keys are visited too: one that a side deleted while the other left it alone
    # merges to MISSING and is left out.
    for key in [*current, *(k for k in incoming if k not in current), *base]:
        if key in out:
            continue
        b, c, i = base.get(key, MISSING), current.get(key, MISSING), incoming.get(key, MISSING)
        value, clash = _merge_value(b, c, i)
        if clash and key in nested and _all_objects(b, c, i):
            value = _merge_mapping(
                b if isinstance(b, dict) else {},
                c if isinstance(c, dict) else {},
                i if isinstance(i, dict) else {},
                on_conflict,
                prefix=f"{prefix}{key}.",
            )
        elif clash:
            on_conflict.append((f"{prefix}{key}", c, i))
        if value is not MISSING:
            out[key] = value
    return out


def _all_objects(*values: Any) -> bool:
    return all(v is MISSING or isinstance(v, dict) for v in values)


def _merge_entity(
    kind: EntityKind, ident: str, base: Any, current: Any, incoming: Any
) -> tuple[Any, list[dict[str, Any]]]:
    """One node or edge from its three versions (MISSING where absent)."""
    # Shared objects (see domain/flow_index) decide most entities by identity alone, with
    # the result the equality rules below would give. Untouched by the request: the
    # server's, unless that is the base in other bytes (key order, 1.0): the request's.
    if incoming is base:
        return (incoming if current is base or json_equal(current, base) else current), []
    if current is base or current is incoming:
        return incoming, []
    if current is MISSING and incoming is MISSING:
        return MISSING, []
    if current is MISSING or incoming is MISSING:
        side: Side = "incoming" if current is MISSING else "current"
        present = incoming if current is MISSING else current
        if base is MISSING:
            return present, []  # added on one side only
        if json_equal(present, base):
            return MISSING, []  # deleted on the other side, untouched here
        # Deleted on one side, modified on the other: keep the work.
        return present, [_conflict(kind, ident, None, current, incoming, side)]
    if json_equal(current, base) or json_equal(current, incoming):
        return incoming, []
    if json_equal(incoming, base):
        return current, []
    clashes: list[tuple[str, Any, Any]] = []
    merged = _merge_mapping(
        base if base is not MISSING else {},
        current,
        incoming,
        clashes,
        nested=frozenset({"data"}),
    )
    return merged, [_conflict(kind, ident, f, c, i, "incoming") for f, c, i in clashes]


def _reordered(side: list[str], base: list[str]) -> bool:
    """Whether ``side`` changed the relative order of the ids it shares with ``base``."""
    base_set, side_set = set(base), set(side)
    return [x for x in side if x in base_set] != [x for x in base if x in side_set]


def _merge_order(
    base: list[str], current: list[str], incoming: list[str], survivors: dict[str, Any]
) -> list[str]:
    # The request's order leads when the server left the order alone, or when only the
    # request rearranged what both share; otherwise the server's (which is also the
    # request's order whenever the request left the ids exactly as in the base).
    if current == base or (_reordered(incoming, base) and not _reordered(current, base)):
        lead, follow = incoming, current
    else:
        lead, follow = current, incoming
    order = [x for x in lead if x in survivors]
    placed = set(order)
    # Survivors only the following side has go just before the next entity they preceded
    # there (so a node kept against a deletion stays where it was), or at the end.
    before: dict[str, list[str]] = {}
    pending: list[str] = []
    for x in follow:
        if x in placed:
            if pending:
                before.setdefault(x, []).extend(pending)
                pending = []
        elif x in survivors:
            pending.append(x)
    if not before:
        return order + pending
    out: list[str] = []
    for x in order:
        out += before.get(x, ())
        out.append(x)
    return out + pending


def _merge_collection(
    kind: EntityKind, base: list[Entity], current: list[Entity], incoming: list[Entity]
) -> tuple[list[Entity], list[dict[str, Any]]]:
    ids_base = entity_ids(base)
    ids_current = entity_ids(current)
    ids_incoming = entity_ids(incoming)
    if ids_base == ids_current == ids_incoming:
        return _merge_aligned(kind, ids_base, base, current, incoming)
    by_base = dict(zip(ids_base, base, strict=True))
    by_current = dict(zip(ids_current, current, strict=True))
    by_incoming = dict(zip(ids_incoming, incoming, strict=True))
    survivors: dict[str, Any] = {}
    conflicts: list[dict[str, Any]] = []
    # Every id of current, then those only the request has (an id only the base has was
    # deleted on both sides).
    for ids in (by_current, [k for k in by_incoming if k not in by_current]):
        for ident in ids:
            merged, found = _merge_entity(
                kind,
                ident,
                by_base.get(ident, MISSING),
                by_current.get(ident, MISSING),
                by_incoming.get(ident, MISSING),
            )
            conflicts += found
            if merged is not MISSING:
                survivors[ident] = merged
    order = _merge_order(ids_base, ids_current, ids_incoming, survivors)
    return [survivors[x] for x in order], conflicts


def _merge_aligned(
    kind: EntityKind,
    ids: list[str],
    base: list[Entity],
    current: list[Entity],
    incoming: list[Entity],
) -> tuple[list[Entity], list[dict[str, Any]]]:
    """The common case: the same ids in the same order on all three sides.

    Nothing is added, removed or moved, so only the positions where ``current`` and
    ``incoming`` hold different objects need a look (found without a Python loop; with
    shared objects, see domain/flow_index, they are the entities someone changed).
    """
    merged = list(current)
    conflicts: list[dict[str, Any]] = []
    for k in compress(count(), map(is_not, current, incoming)):
        merged[k], found = _merge_entity(kind, ids[k], base[k], current[k], incoming[k])
        conflicts += found
    return merged, conflicts


def merge_flows(base: FlowJSON, current: FlowJSON, incoming: FlowJSON) -> MergeResult:
    """Merge ``incoming`` (the request) into ``current`` (the server) since ``base``.

    Returns ``{"name", "nodes", "edges"}`` (``name`` only if some side has one) with the
    conflicts and dropped edge ids; see the module docstring for every rule.
    """
    result = MergeResult(flow_doc={})
    if "name" in base or "name" in current or "name" in incoming:
        b, c = base.get("name", MISSING), current.get("name", MISSING)
        i = incoming.get("name", b)  # a request without a name leaves it alone
        name, clash = _merge_value(b, c, i)
        if clash:
            result.conflicts.append(_conflict("flow", None, "name", c, i, "incoming"))
        if name is not MISSING:
            result.flow_doc["name"] = name
    for kind, key in COLLECTIONS:
        merged, conflicts = _merge_collection(
            kind, entities(base, key), entities(current, key), entities(incoming, key)
        )
        result.flow_doc[key] = merged
        result.conflicts += conflicts
    node_ids = set(entity_ids(result.flow_doc["nodes"]))
    edges = result.flow_doc["edges"]
    if ends_within(edges, node_ids):
        return result  # nothing dangles
    kept: list[Entity] = []
    for edge in edges:
        if edge.get("source") in node_ids and edge.get("target") in node_ids:
            kept.append(edge)
        else:
            result.dropped_edges.append(edge["id"])
    result.flow_doc["edges"] = kept
    return result
