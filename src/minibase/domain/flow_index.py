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

from dataclasses import dataclass
from typing import Any

import orjson

from minibase.domain.flow_doc import COLLECTIONS, Entity, FlowDoc

Indexed = dict[str, tuple[Entity, bytes]]
"""Entity id -> (the entity, its compact JSON bytes)."""


@dataclass(frozen=True, slots=True)
class IndexedFlow:
    """A valid flow document with its nodes and edges indexed by id (see module doc)."""

    doc: FlowDoc
    entities: dict[str, Indexed]
    """``"nodes"`` / ``"edges"`` -> their index."""


def index_flow(doc: FlowDoc, *parents: IndexedFlow) -> IndexedFlow:
    """Index a valid ``doc``, reusing the bytes of entities that are ``parents``' objects.

    A document made from others (a merge shares their unchanged entities) costs one
    serialization per entity that is new, not one per entity.
    """
    entities: dict[str, Indexed] = {}
    for _, key in COLLECTIONS:
        known = [p.entities[key] for p in parents]
        index: Indexed = {}
        for entity in doc.get(key, ()):
            ident = entity["id"]
            for k in known:
                hit = k.get(ident)
                if hit is not None and hit[0] is entity:
                    index[ident] = hit
                    break
            else:
                index[ident] = (entity, orjson.dumps(entity))
        entities[key] = index
    return IndexedFlow(doc, entities)


def intern(doc: FlowDoc, *known: IndexedFlow) -> tuple[FlowDoc, set[int]]:
    """``doc`` with every entity byte-identical to ``known``'s same-id entity replaced by it.

    Tolerates an unvalidated ``doc`` (anything that is not an entity list of objects with
    string ids is left as it is). Returns the new document (a shallow copy, lists rebuilt)
    and the ``id()`` of every entity taken from ``known``: those are valid already.
    """
    out = dict(doc)
    trusted: set[int] = set()
    for _, key in COLLECTIONS:
        items = doc.get(key)
        if not isinstance(items, list) or not known:
            continue
        indexes = [k.entities[key] for k in known]
        try:
            out[key] = _intern_list(items, indexes, trusted)
        except orjson.JSONEncodeError:  # not JSON at all: validation will say where
            out[key] = [_intern_one(entity, indexes, trusted) for entity in items]
    return out, trusted


def _intern_list(items: list[Any], indexes: list[Indexed], trusted: set[int]) -> list[Any]:
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
            trusted.add(id(match[0]))
            out.append(match[0])
            at += len(match[1]) + 1
        else:
            out.append(entity)
            at += len(orjson.dumps(entity)) + 1
    return out


def _intern_one(entity: Any, indexes: list[Indexed], trusted: set[int]) -> Any:
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
            trusted.add(id(entity))
            return entity
        if encoded is None:
            try:
                encoded = orjson.dumps(entity)
            except orjson.JSONEncodeError:
                return entity  # validation reports it
        if hit[1] == encoded:
            trusted.add(id(hit[0]))
            return hit[0]
    return entity


def align(flow: IndexedFlow, *known: IndexedFlow) -> IndexedFlow:
    """``flow`` with its entities that are byte-identical to ``known``'s replaced by them."""
    entities: dict[str, Indexed] = {}
    doc = dict(flow.doc)
    changed = False
    for _, key in COLLECTIONS:
        indexes = [k.entities[key] for k in known]
        index: Indexed = {}
        items: list[Entity] = []
        for ident, hit in flow.entities[key].items():
            for other in indexes:
                twin = other.get(ident)
                if twin is not None and twin[0] is not hit[0] and twin[1] == hit[1]:
                    hit = twin
                    changed = True
                    break
            index[ident] = hit
            items.append(hit[0])
        entities[key] = index
        doc[key] = items
    return IndexedFlow(doc, entities) if changed else flow


def encoded_document(flow: IndexedFlow) -> bytes:
    """``{"nodes": [...], "edges": [...]}`` as stored, from the entities' bytes."""
    nodes = b",".join(b for _, b in flow.entities["nodes"].values())
    edges = b",".join(b for _, b in flow.entities["edges"].values())
    return b'{"nodes":[' + nodes + b'],"edges":[' + edges + b"]}"
