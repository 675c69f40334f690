"""The rules a flow document must follow, checked before anything is stored.

``validate_flow`` checks a whole document and returns it normalized; ``node_errors`` and
``edge_errors`` check single entities (for ``PATCH`` ops and for the collab room, which
removes only the offending entries of an update). Every problem is reported at once, as
one :class:`~minibase.errors.ValidationFailed` whose ``fields`` carry paths such as
``nodes[3].position.x`` or ``edges[0].target`` and a pydantic-like ``type``:

==================  ====================================================
``missing``         a required field is absent
``dict_type``       not a JSON object
``list_type``       not a JSON array
``string_type``     not a string
``string_too_short``  an empty string (or a blank name)
``string_too_long``   an id or name over 256 characters
``float_type``      not a number (booleans are not numbers)
``finite_number``   ``NaN`` or infinite
``duplicate_id``    a second node (or edge) with the same id
``unknown_node``    an edge end that names no node of the flow
``json_type``       a value JSON cannot carry (e.g. an integer beyond 64 bits)
==================  ====================================================

Size limits are not validation errors but :class:`~minibase.errors.PayloadTooLarge`
(413), checked before the entities so an oversized document costs little to refuse.
Fields the rules do not mention are kept exactly as given, key order included.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Mapping, Sequence
from itertools import compress, count
from operator import not_
from typing import Any

import orjson

from minibase.domain.flow_json import Entity, FlowJSON, ends_within, entity_ids
from minibase.domain.trusted import NOTHING_TRUSTED, Trusted
from minibase.domain.view_fields import drop_view_fields
from minibase.errors import PayloadTooLarge, QuotaExceeded, ValidationFailed

MAX_ID_LENGTH = 256
"""Longest node or edge id, in characters (the contract's limit)."""

MAX_NAME_LENGTH = 256
"""Longest flow name, in characters."""

MAX_REPORTED_ERRORS = 100
"""At most this many field errors are listed; the message gives the total."""

FieldError = dict[str, str]


def _error(field: str, message: str, type_: str) -> FieldError:
    return {"field": field, "message": message, "type": type_}


def _check_id(value: Any, path: str, errors: list[FieldError]) -> bool:
    """Append the problems of an id; True when it is a usable id."""
    if not isinstance(value, str):
        errors.append(_error(path, "Must be a string.", "string_type"))
    elif not value:
        errors.append(_error(path, "Must not be empty.", "string_too_short"))
    elif len(value) > MAX_ID_LENGTH:
        errors.append(
            _error(path, f"Must be at most {MAX_ID_LENGTH} characters.", "string_too_long")
        )
    else:
        return True
    return False


def _check_number(obj: Mapping[str, Any], key: str, path: str, errors: list[FieldError]) -> None:
    if key not in obj:
        errors.append(_error(path, "Field required.", "missing"))
        return
    value = obj[key]
    # bool is an int subclass in Python, but `true` is no coordinate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.append(_error(path, "Must be a number.", "float_type"))
    elif isinstance(value, float) and not math.isfinite(value):
        errors.append(_error(path, "Must be a finite number.", "finite_number"))


def _check_optional_object(obj: Mapping[str, Any], key: str, path: str) -> list[FieldError]:
    if key in obj and not isinstance(obj[key], dict):
        return [_error(path, "Must be an object.", "dict_type")]
    return []


def node_errors(node: Any, path: str = "node") -> list[FieldError]:
    """The problems of one node (empty when valid); ``path`` prefixes the field names.

    A node needs an ``id`` (non-empty string, at most 256 characters), a ``type``
    (non-empty string) and a ``position`` object with finite numbers ``x`` and ``y``;
    ``data`` is optional but must be an object when present (it is not added when absent).
    """
    if not isinstance(node, dict):
        return [_error(path, "Must be an object.", "dict_type")]
    errors: list[FieldError] = []
    if "id" not in node:
        errors.append(_error(f"{path}.id", "Field required.", "missing"))
    else:
        _check_id(node["id"], f"{path}.id", errors)
    if "type" not in node:
        errors.append(_error(f"{path}.type", "Field required.", "missing"))
    elif not isinstance(node["type"], str):
        errors.append(_error(f"{path}.type", "Must be a string.", "string_type"))
    elif not node["type"]:
        errors.append(_error(f"{path}.type", "Must not be empty.", "string_too_short"))
    if "position" not in node:
        errors.append(_error(f"{path}.position", "Field required.", "missing"))
    elif not isinstance(node["position"], dict):
        errors.append(_error(f"{path}.position", "Must be an object.", "dict_type"))
    else:
        _check_number(node["position"], "x", f"{path}.position.x", errors)
        _check_number(node["position"], "y", f"{path}.position.y", errors)
    errors += _check_optional_object(node, "data", f"{path}.data")
    return errors


def edge_errors(edge: Any, node_ids: Container[str] | None, path: str = "edge") -> list[FieldError]:
    """The problems of one edge (empty when valid); ``path`` prefixes the field names.

    An edge needs an ``id`` (as for nodes) and ``source`` and ``target`` strings naming
    nodes in ``node_ids`` (a set, ideally; ``None`` skips that check). ``data`` is optional
    but must be an object when present (so merges can treat its keys one by one).
    """
    if not isinstance(edge, dict):
        return [_error(path, "Must be an object.", "dict_type")]
    errors: list[FieldError] = []
    if "id" not in edge:
        errors.append(_error(f"{path}.id", "Field required.", "missing"))
    else:
        _check_id(edge["id"], f"{path}.id", errors)
    for end in ("source", "target"):
        field = f"{path}.{end}"
        if end not in edge:
            errors.append(_error(field, "Field required.", "missing"))
        elif not isinstance(edge[end], str):
            errors.append(_error(field, "Must be a string.", "string_type"))
        elif node_ids is not None and edge[end] not in node_ids:
            errors.append(_error(field, f"No node {edge[end]!r} in this flow.", "unknown_node"))
    errors += _check_optional_object(edge, "data", f"{path}.data")
    return errors


def _name_errors(name: Any) -> list[FieldError]:
    if not isinstance(name, str):
        return [_error("name", "Must be a string.", "string_type")]
    if not name.strip():
        return [_error("name", "Must not be blank.", "string_too_short")]
    if len(name) > MAX_NAME_LENGTH:
        return [_error("name", f"Must be at most {MAX_NAME_LENGTH} characters.", "string_too_long")]
    return []


def _duplicate_errors(items: list[Any], key: str) -> list[FieldError]:
    """One error per repeated id, at the later occurrence, naming the first one."""
    first: dict[str, int] = {}
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        ident = item["id"]
        if ident in first:
            errors.append(
                _error(
                    f"{key}[{index}].id",
                    f"Duplicate id {ident!r} (also {key}[{first[ident]}]).",
                    "duplicate_id",
                )
            )
        else:
            first[ident] = index
    return errors


def _raise(errors: list[FieldError]) -> None:
    if not errors:
        return
    shown = errors[:MAX_REPORTED_ERRORS]
    message = None
    if len(errors) > len(shown):
        message = f"{len(errors)} fields are invalid; the first {len(shown)} are listed."
    raise ValidationFailed(shown, message)


def _check_count(items: list[Any], key: str, limit: int | None) -> None:
    if limit is not None and len(items) > limit:
        raise PayloadTooLarge(
            f"A flow may have at most {limit} {key} ({len(items)} given).",
            {"field": key, "limit": limit, "size": len(items)},
        )


def check_limits(
    doc: FlowJSON,
    *,
    max_nodes: int | None = None,
    max_edges: int | None = None,
    max_bytes: int | None = None,
    size: int | None = None,
) -> None:
    """Refuse a document over the size limits (``PayloadTooLarge``).

    All that a three-way merge of valid documents can break: its entities are valid
    pieces of valid entities and its edges join existing nodes, but it can hold more.
    ``size``: the document's length as compact JSON, when known (see :func:`document_size`).
    """
    _check_count(doc["nodes"], "nodes", max_nodes)
    _check_count(doc["edges"], "edges", max_edges)
    if size is None:
        try:
            size = len(orjson.dumps(doc))
        except orjson.JSONEncodeError as exc:
            raise ValidationFailed(
                [_error("", f"Not representable as JSON: {exc}.", "json_type")]
            ) from exc
    if max_bytes is not None and size > max_bytes:
        raise PayloadTooLarge(
            f"The flow is {size} bytes as JSON; the limit is {max_bytes}.",
            {"field": "", "limit": max_bytes, "size": size},
        )


def document_size(name: str, stored: bytes) -> int:
    """Length of ``{"name": name, "nodes": ..., "edges": ...}`` as compact JSON, given
    ``stored``, the ``{"nodes": ..., "edges": ...}`` part (as a flow row keeps it)."""
    return len(b'{"name":') + len(orjson.dumps(name)) + len(b",") + len(stored) - len(b"{")


def _untrusted(items: list[Any], trusted: Trusted) -> Sequence[int]:
    """Indexes of the items not in ``trusted``."""
    if not trusted:
        return range(len(items))
    return list(compress(count(), map(not_, trusted.flags(items))))


def _id_set(items: list[Any]) -> set[str]:
    """The string ids of the objects among ``items``."""
    try:
        ids = set(entity_ids(items))
    except (KeyError, TypeError):  # a non-object, an object without id, an unhashable id
        return {i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)}
    return ids if set(map(type, ids)) <= {str} else {i for i in ids if isinstance(i, str)}


def validate_flow(
    doc: Any,
    *,
    max_nodes: int | None = None,
    max_edges: int | None = None,
    max_bytes: int | None = None,
    require_name: bool = False,
    trusted: Trusted = NOTHING_TRUSTED,
) -> FlowJSON:
    """Check a flow document and return it normalized as ``{"name"?, "nodes", "edges"}``.

    Normalizing means: absent ``nodes`` or ``edges`` become ``[]``, ``name`` is kept only
    when given (``require_name`` makes it required, as on create), and other top-level keys
    are dropped; nodes and edges are the very objects given, unknown fields and key order
    untouched. ``None`` limits are unlimited. ``max_bytes`` applies to the normalized
    document serialized as compact JSON.

    ``trusted`` holds entities known to be valid on their own (taken from
    a stored document, see :func:`minibase.domain.flow_index.intern`): only their place in
    this document (unique ids, edge ends) is checked.

    Raises PayloadTooLarge for a limit, ValidationFailed listing every other problem.
    """
    if not isinstance(doc, dict):
        raise ValidationFailed([_error("", "The flow must be an object.", "dict_type")])
    errors: list[FieldError] = []
    out: FlowJSON = {}
    if "name" in doc:
        errors += _name_errors(doc["name"])
        out["name"] = doc["name"]
    elif require_name:
        errors.append(_error("name", "Field required.", "missing"))
    for key in ("nodes", "edges"):
        value = doc.get(key, [])
        if not isinstance(value, list):
            errors.append(_error(key, "Must be an array.", "list_type"))
        out[key] = value
    if not (isinstance(out["nodes"], list) and isinstance(out["edges"], list)):
        _raise(errors)  # nothing more can be checked without the two lists

    nodes: list[Any] = out["nodes"]
    edges: list[Any] = out["edges"]
    check_limits(out, max_nodes=max_nodes, max_edges=max_edges, max_bytes=max_bytes)

    # Only the untrusted entities are walked in Python; the rest is found in C (``map``).
    untrusted_nodes = _untrusted(nodes, trusted)
    for index in untrusted_nodes:
        errors += node_errors(nodes[index], f"nodes[{index}]")
    # Trusted entities come from a stored document, which never holds view-only fields.
    nodes = out["nodes"] = drop_view_fields(nodes, untrusted_nodes)
    # Edges may point at any node that has a string id, even one invalid for other
    # reasons: that node is already reported, and a second error per edge would be noise.
    node_ids = _id_set(nodes)
    if len(node_ids) != len(nodes):
        errors += _duplicate_errors(nodes, "nodes")
    suspects = _untrusted(edges, trusted)
    if len(suspects) < len(edges) and not ends_within(edges, node_ids):
        suspects = range(len(edges))  # some trusted edge lost an end: check them all
    for index in suspects:
        errors += edge_errors(edges[index], node_ids, f"edges[{index}]")
    edges = out["edges"] = drop_view_fields(edges, suspects)
    edge_ids = _id_set(edges)
    if len(edge_ids) != len(edges):
        errors += _duplicate_errors(edges, "edges")
    _raise(errors)
    return out


def count_node_types(nodes: Iterable[Entity]) -> dict[str, int]:
    """How many nodes use each ``type``, in order of first use (nodes without one skipped)."""
    counts: dict[str, int] = {}
    for node in nodes:
        node_type = node.get("type")
        if isinstance(node_type, str):
            counts[node_type] = counts.get(node_type, 0) + 1
    return counts


def check_allowed_types(nodes: Iterable[Entity], allowed: list[str] | None) -> None:
    """Refuse nodes whose ``type`` is outside the org's ``allowedNodeTypes``.

    ``allowed=None`` allows every type. Otherwise raises
    ``QuotaExceeded("allowedNodeTypes", limit=allowed, used=..., requested=...)`` where
    ``used`` is the sorted list of offending types and ``requested`` the number of nodes
    that use them: both bounded and enough for a client to say what to remove.
    """
    if allowed is None:
        return
    permitted = set(allowed)
    offending = {t: n for t, n in count_node_types(nodes).items() if t not in permitted}
    if offending:
        raise QuotaExceeded(
            "allowedNodeTypes",
            limit=list(allowed),
            used=sorted(offending),
            requested=sum(offending.values()),
        )
