"""Flow documents indexed by entity id, each entity with its exact JSON bytes.

A save compares three documents (its base, the current flow and the request) entity by
entity, several times over: validation, the three-way merge, the version's diff and its
history delta. In a typical save all but a few of a hundred entities are untouched, and
comparing them is what costs. So the request's entities are first *interned*: one whose
JSON bytes equal those of the entity with the same id in a known document (the base, the
current flow) is replaced by that very object. Every later comparison of an untouched
entity is then an identity check (``json_equal`` and the history encoder start with
``a is b``), and validation skips entities that come from a stored, valid document.

Interning changes nothing observable: the replacement serializes to the same bytes. Known
documents are shared, so nothing here (or downstream) may modify them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate, compress, count
from operator import add, is_, is_not
from typing import Any

import orjson

from minibase.domain.flow_json import COLLECTIONS, Entity, FlowJSON, entity_ids
from minibase.domain.trusted import Trusted

Indexed = dict[str, tuple[Entity, bytes]]
"""Entity id -> (the entity, its compact JSON bytes)."""


@dataclass(frozen=True, slots=True)
class Listing:
    """One entity list of an indexed document, in document order, with its bytes."""

    ids: list[str]
    items: list[Entity]
    encoded: list[bytes]
    joined: bytes
    """The whole list as compact JSON: ``b"[" + b",".join(encoded) + b"]"``."""
    starts: list[int]
    """Where each entity's bytes start in ``joined``."""
    ends: list[int]
    index: Indexed

    @classmethod
    def of(cls, ids: list[str], items: list[Entity], encoded: list[bytes]) -> Listing:
        lengths = list(map(len, encoded))
        # start of entity k: the "[" plus every earlier entity and its comma (all in C).
        starts = list(map(add, range(1, len(items) + 1), accumulate(lengths, initial=0)))
        return cls(
            ids,
            items,
            encoded,
            b"[" + b",".join(encoded) + b"]",
            starts,
            list(map(add, starts, lengths)),
            dict(zip(ids, zip(items, encoded, strict=True), strict=True)),
        )


@dataclass(frozen=True, slots=True)
class IndexedFlow:
    """A valid flow document with its nodes and edges indexed by id (see module doc)."""

    doc: FlowJSON
    lists: dict[str, Listing]
    """``"nodes"`` / ``"edges"`` -> their listing."""


def index_flow(doc: FlowJSON, *parents: IndexedFlow) -> IndexedFlow:
    """Index a valid ``doc``, reusing the bytes of entities that are ``parents``' objects.

    A document made from others (a merge shares their unchanged entities) costs one
    serialization per entity that is new, not one per entity; a list that is a parent's
    list entity for entity (the common case) is that parent's listing.
    """
    lists: dict[str, Listing] = {}
    for _, key in COLLECTIONS:
        items: list[Entity] = doc.get(key, [])
        known = [p.lists[key] for p in parents]
        lists[key] = _reuse(items, known) or _listing(items, known)
    return IndexedFlow(doc, lists)


def _reuse(items: list[Entity], known: list[Listing]) -> Listing | None:
    """A parent's listing when ``items`` holds exactly its objects, in its order."""
    for listing in known:
        if len(listing.items) == len(items) and all(map(is_, listing.items, items)):
            return listing
    return None


def _listing(items: list[Entity], known: list[Listing]) -> Listing:
    ids = entity_ids(items)
    if known and known[0].ids == ids:
        # Same ids in the same order as the first parent: only positions holding other
        # objects need bytes (found in C).
        first = known[0]
        encoded = list(first.encoded)
        for k in compress(count(), map(is_not, first.items, items)):
            encoded[k] = _bytes_of(items[k], known)
    else:
        encoded = [_bytes_of(entity, known) for entity in items]
    return Listing.of(ids, items, encoded)


def _bytes_of(entity: Entity, known: list[Listing]) -> bytes:
    ident = entity["id"]
    for listing in known:
        hit = listing.index.get(ident)
        if hit is not None and hit[0] is entity:
            return hit[1]
    return orjson.dumps(entity)


def intern(doc: FlowJSON, *known: IndexedFlow) -> tuple[FlowJSON, Trusted]:
    """``doc`` with every entity byte-identical to ``known``'s same-id entity replaced by it.

    Tolerates an unvalidated ``doc`` (anything that is not an entity list of objects with
    string ids is left as it is). Returns the new document (a shallow copy, lists rebuilt)
    and every entity taken from ``known``: those are valid already.
    """
    out = dict(doc)
    trusted = Trusted()
    for _, key in COLLECTIONS:
        items = doc.get(key)
        if not isinstance(items, list) or not known:
            continue
        indexes = [k.lists[key].index for k in known]
        try:
            aligned = _intern_aligned(items, known[0].lists[key], trusted)
            out[key] = aligned if aligned is not None else _intern_list(items, indexes, trusted)
        except orjson.JSONEncodeError:  # not JSON at all: validation will say where
            out[key] = [_intern_one(entity, indexes, trusted) for entity in items]
    return out, trusted


def _intern_aligned(items: list[Any], known: Listing, trusted: Trusted) -> list[Any] | None:
    """The common case, without a Python loop over untouched entities: ``items`` has the
    same ids in the same order as ``known`` (``None`` when it has not).

    The list is serialized once and compared with ``known.joined`` in C: the entities
    inside the common prefix are ``known``'s (each matches at its offset, and a balanced
    JSON object that matches there ends there too). From the first difference, entities
    are compared one by one up to where the common suffix seems to start; the rest, at
    offsets now known exactly, is checked in one comparison (else one by one).
    """
    try:
        ids = entity_ids(items)
    except (KeyError, TypeError):
        return None
    if ids != known.ids:
        return None
    encoded = orjson.dumps(items)
    joined = known.joined
    out = list(known.items)
    if encoded == joined:
        trusted.update(out)
        return out
    view = memoryview(joined)
    prefix = _common_prefix(encoded, joined)
    suffix = _common_suffix(encoded, joined, min(len(encoded), len(joined)) - prefix)
    first = bisect_right(known.ends, prefix)  # entities [0, first) lie in the prefix
    tail = max(first, bisect_left(known.starts, len(joined) - suffix))
    at = known.starts[first] if first < len(items) else len(joined) - 1
    k = first
    while k < len(items):
        if k >= tail and encoded.startswith(view[known.starts[k] :], at):
            break  # everything from k on is known's, at offsets shifted by at - starts[k]
        entity = items[k]
        mine = orjson.dumps(entity)
        if mine != known.encoded[k]:
            out[k] = entity
        at += len(mine) + 1
        k += 1
    trusted.update(compress(out, map(is_, out, known.items)))
    return out


def _intern_list(items: list[Any], indexes: list[Indexed], trusted: Trusted) -> list[Any]:
    """Intern ``items``, serializing the whole list once instead of each entity.

    Each entity's bytes start where the previous one's ended (plus a comma), so a known
    entity is compared in place: ``startswith`` at that offset (a balanced JSON object that
    matches there also ends there). Entities that are already known objects need no bytes
    at all; only the ones that differ are serialized again, for their length.
    """
    out: list[Any] = []
    encoded: bytes | None = None
    at = 1  # past the "["
    for entity in items:
        ident = entity.get("id") if type(entity) is dict else None
        match = None
        if type(ident) is str:
            for index in indexes:
                hit = index.get(ident)
                if hit is None:
                    continue
                if hit[0] is not entity:
                    if encoded is None:
                        encoded = orjson.dumps(items)
                    if not encoded.startswith(hit[1], at):
                        continue
                match = hit
                break
        if match is not None:
            trusted.add(match[0])
            out.append(match[0])
            at += len(match[1]) + 1
        else:
            out.append(entity)
            at += len(orjson.dumps(entity)) + 1
    return out


def _intern_one(entity: Any, indexes: list[Indexed], trusted: Trusted) -> Any:
    if not isinstance(entity, dict):
        return entity
    ident = entity.get("id")
    if not isinstance(ident, str):
        return entity
    encoded: bytes | None = None
    for index in indexes:
        hit = index.get(ident)
        if hit is None:
            continue
        if hit[0] is entity:
            trusted.add(entity)
            return entity
        if encoded is None:
            try:
                encoded = orjson.dumps(entity)
            except orjson.JSONEncodeError:
                return entity  # validation reports it
        if hit[1] == encoded:
            trusted.add(hit[0])
            return hit[0]
    return entity


def align(flow: IndexedFlow, *known: IndexedFlow) -> IndexedFlow:
    """``flow`` with its entities that are byte-identical to ``known``'s replaced by them."""
    lists: dict[str, Listing] = {}
    changed = False
    for _, key in COLLECTIONS:
        mine = flow.lists[key]
        indexes = [k.lists[key].index for k in known]
        items = list(mine.items)
        swapped = False
        for position, (ident, encoded) in enumerate(zip(mine.ids, mine.encoded, strict=True)):
            for other in indexes:
                twin = other.get(ident)
                if twin is not None and twin[0] is not items[position] and twin[1] == encoded:
                    items[position] = twin[0]
                    swapped = True
                    break
        lists[key] = Listing.of(mine.ids, items, mine.encoded) if swapped else mine
        changed = changed or swapped
    if not changed:
        return flow
    doc = dict(flow.doc)
    for key, listing in lists.items():
        doc[key] = listing.items
    return IndexedFlow(doc, lists)


def encoded_document(flow: IndexedFlow) -> bytes:
    """``{"nodes": [...], "edges": [...]}`` as stored, from the entities' bytes."""
    return (
        b'{"nodes":' + flow.lists["nodes"].joined + b',"edges":' + flow.lists["edges"].joined + b"}"
    )


def _common_prefix(a: bytes, b: bytes) -> int:
    """The length of the longest common prefix of ``a`` and ``b`` (bisection, memcmp)."""
    low, high = 0, min(len(a), len(b))
    view = memoryview(b)
    while low < high:
        middle = (low + high + 1) // 2
        if a.startswith(view[:middle]):
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    """The length of the longest common suffix of ``a`` and ``b``, at most ``limit``."""
    low, high = 0, max(0, limit)
    view = memoryview(b)
    while low < high:
        middle = (low + high + 1) // 2
        if a.endswith(view[len(b) - middle :]):
            low = middle
        else:
            high = middle - 1
    return low
