"""``PATCH`` operations on a flow document, applied all together or not at all.

Ops: ``addNode {node}``, ``updateNode {id, set}`` (``set`` replaces the given top-level
fields; ``id`` cannot change), ``removeNode {id}`` (and its edges), ``addEdge {edge}``,
``removeEdge {id}``, ``rename {name}``. The result still goes through flow validation.
"""

from __future__ import annotations

from typing import Any

from minibase.errors import ValidationFailed

OPS = ("addNode", "updateNode", "removeNode", "addEdge", "removeEdge", "rename")


def _fail(index: int, field: str, message: str, type_: str = "value_error") -> ValidationFailed:
    path = f"ops[{index}]" + (f".{field}" if field else "")
    return ValidationFailed([{"field": path, "message": message, "type": type_}])


def _require_object(op: dict[str, Any], index: int, key: str) -> dict[str, Any]:
    value = op.get(key)
    if not isinstance(value, dict):
        raise _fail(index, key, f"`{key}` must be an object.", "dict_type")
    return value


def _require_id(op: dict[str, Any], index: int) -> str:
    value = op.get("id")
    if not isinstance(value, str) or not value:
        raise _fail(index, "id", "`id` must be a non-empty string.", "string_type")
    return value


def apply_ops(doc: dict[str, Any], ops: Any) -> dict[str, Any]:
    """A new document: ``doc`` with every op applied in order (``doc`` is not modified)."""
    if not isinstance(ops, list) or not ops:
        raise ValidationFailed(
            [{"field": "ops", "message": "A non-empty array of operations.", "type": "list_type"}]
        )
    name = doc["name"]
    nodes: list[dict[str, Any]] = list(doc["nodes"])
    edges: list[dict[str, Any]] = list(doc["edges"])
    for index, op in enumerate(ops):
        if not isinstance(op, dict) or op.get("op") not in OPS:
            raise _fail(index, "op", f"`op` must be one of {', '.join(OPS)}.", "enum")
        kind = op["op"]
        if kind == "addNode":
            node = _require_object(op, index, "node")
            if any(n["id"] == node.get("id") for n in nodes):
                raise _fail(index, "node.id", "A node with this id already exists.", "duplicate")
            nodes.append(node)
        elif kind == "updateNode":
            node_id = _require_id(op, index)
            changes = _require_object(op, index, "set")
            if "id" in changes and changes["id"] != node_id:
                raise _fail(index, "set.id", "A node's id cannot change.", "immutable")
            for i, node in enumerate(nodes):
                if node["id"] == node_id:
                    nodes[i] = {**node, **changes}
                    break
            else:
                raise _fail(index, "id", "No node with this id.", "not_found")
        elif kind == "removeNode":
            node_id = _require_id(op, index)
            if not any(n["id"] == node_id for n in nodes):
                raise _fail(index, "id", "No node with this id.", "not_found")
            nodes = [n for n in nodes if n["id"] != node_id]
            edges = [e for e in edges if e.get("source") != node_id and e.get("target") != node_id]
        elif kind == "addEdge":
            edge = _require_object(op, index, "edge")
            if any(e["id"] == edge.get("id") for e in edges):
                raise _fail(index, "edge.id", "An edge with this id already exists.", "duplicate")
            edges.append(edge)
        elif kind == "removeEdge":
            edge_id = _require_id(op, index)
            if not any(e["id"] == edge_id for e in edges):
                raise _fail(index, "id", "No edge with this id.", "not_found")
            edges = [e for e in edges if e["id"] != edge_id]
        else:  # rename
            if not isinstance(op.get("name"), str):
                raise _fail(index, "name", "`name` must be a string.", "string_type")
            name = op["name"]
    return {"name": name, "nodes": nodes, "edges": edges}
