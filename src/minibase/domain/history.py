"""How versions of a flow are stored, so that history grows with the edits, not the flow.

Every ``SNAPSHOT_EVERY``-th version (1, 21, 41, ... with the default 20) is stored whole, a
*snapshot*; every other version is a *delta* against the version just before it. A single
moved node costs a few dozen bytes instead of the whole document. Reading a version means
reading the nearest snapshot at or before it and applying the deltas after it in order, at
most ``SNAPSHOT_EVERY - 1`` of them. See ``docs/history.md`` for the measured sizes.

Each payload is zlib-compressed compact JSON (orjson). A snapshot is
``{"f": 1, "v": version, "doc": <flow document>}``; a delta is::

    {"f": 1, "v": version,
     "top":   {"set": {"name": "New"}, "unset": [...], "keys": [...]},   # other top-level keys
     "nodes": {"del": ["id", ...],                                       # removed ids
               "patch": [{"id": "n1", "set": {"position": {...}}, "unset": ["width"]}],
               "put": [<whole node>, ...],             # new ones, appended; or replaced ones
               "order": ["id", ...]},                  # only when the order is not implied
     "edges": { ...same... }}

Every part (and every empty member of a part) is omitted. A changed entity is sent as a
``patch`` of its changed top-level fields when applying that patch reproduces its key order,
otherwise whole in ``put``. Rebuilding is exact: the result serializes to the very bytes of
the stored document (key order, ``1`` vs ``1.0``), since history is what restores use.

The store keeps ``kind`` beside the payload and reads back, for version ``v``, the newest
snapshot at or before ``v`` and the deltas up to ``v`` (do not compute the snapshot's number:
a version whose predecessor was unavailable is stored as a snapshot too).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress, count
from operator import is_not
from typing import Any, Literal

import orjson

from minibase.domain.flow_json import COLLECTIONS, Entity, FlowJSON, entity_ids
from minibase.errors import MinibaseError

SNAPSHOT_EVERY = 20
"""A full snapshot every this many versions (the most deltas a read replays is one less)."""

FORMAT = 1
"""The payload format; stored in every payload as ``"f"``."""

ZLIB_LEVEL = 6

VersionKind = Literal["snapshot", "delta"]


class CorruptHistory(MinibaseError):
    """Stored history that cannot be read back (missing snapshot, gap, unknown format)."""

    code = "history_corrupt"
    default_message = "The stored version history is damaged."


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def _same(a: Any, b: Any) -> bool:
    """Exactly the same JSON text: ``1`` is not ``1.0``, key order counts."""
    return a is b or (a == b and _dumps(a) == _dumps(b))


def _ids(items: Any) -> list[str] | None:
    """The ids of a list of entities, or None if it is not one with unique string ids."""
    if not isinstance(items, list) or not set(map(type, items)) <= {dict}:
        return None
    try:
        ids = entity_ids(items)
    except KeyError:
        return None
    if not set(map(type, ids)) <= {str}:
        return None
    return ids if len(set(ids)) == len(ids) else None


def _object_patch(old: dict[str, Any], new: dict[str, Any], skip: frozenset[str]) -> dict[str, Any]:
    """``{"set", "unset", "keys"}`` turning ``old`` into ``new``; empty members omitted.

    ``keys`` (the full key order) is there only when set/unset alone would not reproduce it.
    """
    changed = {
        k: v for k, v in new.items() if k not in skip and (k not in old or not _same(old[k], v))
    }
    unset = [k for k in old if k not in new and k not in skip]
    patch: dict[str, Any] = {}
    if changed:
        patch["set"] = changed
    if unset:
        patch["unset"] = unset
    implied = [k for k in old if k not in unset] + [k for k in new if k not in old]
    if implied != list(new):
        patch["keys"] = list(new)
    return patch


def _apply_object_patch(old: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(old)
    for key in patch.get("unset", ()):
        out.pop(key, None)
    out.update(patch.get("set", {}))
    if "keys" in patch:
        out = {k: out[k] for k in patch["keys"]}
    return out


@dataclass(slots=True)
class Touched:
    """What a delta found changed in one collection (for the version's summary).

    ``changed`` pairs the old and new entity of every id present on both sides whose JSON
    text differs: a superset of what JSON equality calls changed (key order, ``1.0``).
    """

    added: int = 0
    removed: int = 0
    changed: list[tuple[Entity, Entity]] = field(default_factory=list)


def _collection_delta(
    old: list[Entity], new: list[Entity], old_ids: list[str], new_ids: list[str], touched: Touched
) -> dict[str, Any]:
    part: dict[str, Any] = {}
    patches: list[dict[str, Any]] = []
    puts: list[Entity] = []
    removed: list[str] = []
    order: list[str] | None = None
    pairs: Iterable[tuple[Entity | None, Entity]]
    if old_ids == new_ids:
        # Same ids in the same order: only positions holding different objects can have
        # changed (shared objects are unchanged, see domain/flow_index).
        changed_at = compress(count(), map(is_not, old, new))
        pairs = [(old[k], new[k]) for k in changed_at]
    else:
        by_old = dict(zip(old_ids, old, strict=True))
        old_set, new_set = set(old_ids), set(new_ids)
        removed = [i for i in old_ids if i not in new_set]
        pairs = [(by_old.get(i), e) for i, e in zip(new_ids, new, strict=True)]
        # The order a reader gets without help: survivors in old order, then new ones.
        implied = [i for i in old_ids if i in new_set] + [i for i in new_ids if i not in old_set]
        if implied != new_ids:
            order = new_ids
    for before, entity in pairs:
        if before is entity:
            continue
        if before is None:
            puts.append(entity)
            touched.added += 1
        elif not _same(before, entity):
            touched.changed.append((before, entity))
            patch = _object_patch(before, entity, frozenset({"id"}))
            if "keys" in patch:
                puts.append(entity)  # a reordered object travels whole
            else:
                patches.append({"id": entity["id"], **patch})
    touched.removed = len(removed)
    if removed:
        part["del"] = removed
    if patches:
        part["patch"] = patches
    if puts:
        part["put"] = puts
    if order is not None:
        part["order"] = order
    return part


def _apply_collection(old: list[Entity], part: dict[str, Any]) -> list[Entity]:
    items = {e["id"]: e for e in old}
    for ident in part.get("del", ()):
        del items[ident]
    for patch in part.get("patch", ()):
        items[patch["id"]] = _apply_object_patch(items[patch["id"]], patch)
    for entity in part.get("put", ()):
        items[entity["id"]] = entity
    if "order" in part:
        return [items[i] for i in part["order"]]
    return list(items.values())


def _delta(prev: FlowJSON, doc: FlowJSON, touched: dict[str, Touched]) -> dict[str, Any] | None:
    """The delta from ``prev`` to ``doc``, or None when only a snapshot can carry it."""
    keys = [key for _, key in COLLECTIONS]
    ids: dict[str, tuple[list[str], list[str]]] = {}
    for key in keys:
        if (key in prev) != (key in doc):
            return None
        if key in doc:
            old_ids, new_ids = _ids(prev[key]), _ids(doc[key])
            if old_ids is None or new_ids is None:
                return None  # not the entity lists the delta format assumes: keep it whole
            ids[key] = (old_ids, new_ids)
    delta: dict[str, Any] = {}
    top = _object_patch(prev, doc, frozenset(keys))
    if top:
        delta["top"] = top
    for key, (old_ids, new_ids) in ids.items():
        touched[key] = Touched()
        part = _collection_delta(prev[key], doc[key], old_ids, new_ids, touched[key])
        if part:
            delta[key] = part
    return delta


SMALL_PAYLOAD = 1024
"""Payloads up to this size are compressed with a 1 KiB window: the same zlib format, a
third of the set-up cost (most deltas are a few dozen bytes)."""


def _pack(value: dict[str, Any]) -> bytes:
    raw = _dumps(value)
    if len(raw) > SMALL_PAYLOAD:
        return zlib.compress(raw, ZLIB_LEVEL)
    packer = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, 10, 4)
    return packer.compress(raw) + packer.flush()


@dataclass(frozen=True, slots=True)
class EncodedVersion:
    """A version as stored (``kind``, ``payload``) and, for a delta, what it touched."""

    kind: VersionKind
    payload: bytes
    touched: dict[str, Touched] | None = None
    """``"nodes"`` / ``"edges"`` -> :class:`Touched`; ``None`` for a snapshot."""


def encode(
    prev_doc: FlowJSON | None, doc: FlowJSON, version: int, *, every: int = SNAPSHOT_EVERY
) -> EncodedVersion:
    """:func:`encode_version`, also telling what a delta touched."""
    if prev_doc is not None and (version - 1) % every != 0:
        touched: dict[str, Touched] = {}
        delta = _delta(prev_doc, doc, touched)
        if delta is not None:
            return EncodedVersion("delta", _pack({"f": FORMAT, "v": version, **delta}), touched)
    return EncodedVersion("snapshot", _pack({"f": FORMAT, "v": version, "doc": doc}))


def encode_version(
    prev_doc: FlowJSON | None, doc: FlowJSON, version: int, *, every: int = SNAPSHOT_EVERY
) -> tuple[VersionKind, bytes]:
    """The kind and payload to store for ``version`` of a flow whose previous version was
    ``prev_doc`` (None when unknown or for version 1).

    A snapshot when ``version`` is 1, 1 + every, 1 + 2*every, ..., when ``prev_doc`` is None,
    or when a document is not a list of uniquely identified entities; a delta otherwise.
    """
    encoded = encode(prev_doc, doc, version, every=every)
    return encoded.kind, encoded.payload


def _unpack(payload: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(zlib.decompress(payload))
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise CorruptHistory(f"Unreadable history payload: {exc}.") from exc
    if (
        not isinstance(value, dict)
        or value.get("f") != FORMAT
        or not isinstance(value.get("v"), int)
    ):
        raise CorruptHistory("Unknown history payload format.")
    return value


def _apply(prev_doc: FlowJSON, delta: dict[str, Any]) -> FlowJSON:
    if "doc" in delta:
        raise CorruptHistory("A snapshot payload was given as a delta.")
    try:
        doc = _apply_object_patch(prev_doc, delta["top"]) if "top" in delta else dict(prev_doc)
        for _, key in COLLECTIONS:
            if key in delta:
                doc[key] = _apply_collection(doc[key], delta[key])
    except (KeyError, TypeError) as exc:
        raise CorruptHistory(f"Delta for version {delta['v']} does not fit: {exc!r}.") from exc
    return doc


def apply_delta(prev_doc: FlowJSON, payload: bytes) -> FlowJSON:
    """The document a delta payload makes of ``prev_doc`` (which is not modified)."""
    return _apply(prev_doc, _unpack(payload))


def rebuild(entries: Sequence[tuple[str, bytes]]) -> FlowJSON:
    """The document of the last entry, given ``(kind, payload)`` pairs in version order
    starting with a snapshot (a later snapshot simply restarts from itself).

    Raises CorruptHistory for an empty list, a leading delta, or a gap in version numbers.
    """
    doc: FlowJSON | None = None
    version = 0
    for kind, payload in entries:
        if kind == "snapshot":
            value = _unpack(payload)
            if not isinstance(value.get("doc"), dict):
                raise CorruptHistory(f"Snapshot {value['v']} holds no document.")
            doc, version = value["doc"], value["v"]
        elif kind == "delta":
            if doc is None:
                raise CorruptHistory("History must start with a snapshot.")
            delta = _unpack(payload)
            if delta["v"] != version + 1:
                raise CorruptHistory(f"Delta for version {delta['v']} follows version {version}.")
            doc, version = _apply(doc, delta), delta["v"]
        else:
            raise CorruptHistory(f"Unknown history entry kind {kind!r}.")
    if doc is None:
        raise CorruptHistory("No history entries.")
    return doc
