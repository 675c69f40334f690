"""Flow JSON at the byte level: the contract's flow object spliced from stored bytes.

A flow row keeps its current document as JSON bytes (``{"nodes": [...], "edges": [...]}``),
so a read returns stored bytes without parsing them: the row's own fields are serialized
and the document's bytes are spliced in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from minibase.services.usage import Usage


@dataclass(slots=True)
class FlowResult:
    """A flow as the API returns it (serialized), with what the write did."""

    body: bytes
    version: int
    usage: Usage | None = None
    org: Any = None


def encode_document(doc: dict[str, Any]) -> bytes:
    """The stored form of a document: its nodes and edges as JSON."""
    return orjson.dumps({"nodes": doc.get("nodes", []), "edges": doc.get("edges", [])})


def render_flow(
    row: Any, document: bytes | None = None, extra: dict[str, Any] | None = None
) -> bytes:
    """The contract's flow JSON, spliced from the row's fields and its stored bytes."""
    head = orjson.dumps(
        {
            "id": row.id,
            "organizationId": row.organization_id,
            "name": row.name,
            "createdBy": row.created_by,
            "version": row.version,
            "lastModified": row.last_modified,
        }
    )
    body = document if document is not None else row.document
    tail = b"," + orjson.dumps(extra)[1:-1] if extra else b""
    return head[:-1] + b"," + body[1:-1] + tail + b"}"


def summary_json(row: Any) -> dict[str, Any]:
    """A flow in a list (no document)."""
    return {
        "id": row.id,
        "name": row.name,
        "version": row.version,
        "lastModified": row.last_modified,
        "createdBy": row.created_by,
        "nodeCount": row.node_count,
        "edgeCount": row.edge_count,
    }


def document_of(row: Any) -> dict[str, Any]:
    """The row's document, parsed, with its name."""
    doc: dict[str, Any] = orjson.loads(row.document)
    return {"name": row.name, "nodes": doc["nodes"], "edges": doc["edges"]}


def version_document(name: str, document: bytes) -> bytes:
    """A version's whole document as JSON (name, nodes, edges), spliced from the stored
    bytes of its nodes and edges."""
    return b'{"name":' + orjson.dumps(name) + b"," + document[1:]


def version_view(current_body: bytes, doc: dict[str, Any], row: Any) -> dict[str, Any]:
    """A past version in the flow's shape (``version``/``lastModified`` of that version)."""
    current = orjson.loads(current_body)
    return {
        "id": current["id"],
        "organizationId": current["organizationId"],
        "name": doc["name"],
        "nodes": doc["nodes"],
        "edges": doc["edges"],
        "createdBy": current["createdBy"],
        "version": row.version,
        "lastModified": row.created_at,
        "versionCreatedBy": row.created_by,
    }
