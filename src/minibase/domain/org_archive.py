"""The organization archive format (``minibase-org``): names, versions, row encoding.

An archive is a zip of

- ``manifest.json``: ``format``, ``formatVersion``, ``minibaseVersion``, ``exportedAt``,
  ``organizationId``, ``counts`` (rows per kind) and ``files`` (``sha256``, ``bytes`` and
  ``rows`` of every other file);
- ``organization.json``: the organization (name, settings, plan, usage counters);
- ``members.jsonl``: ``{email, name, role, createdAt}`` per member (matched by email on
  import);
- one JSON Lines file per kind of tenant row: ``flows``, ``versions``, ``outputs``,
  ``audit``, ``doc_updates`` and ``doc_snapshots`` (the collaborative editing log), and
  any kind added later under its table's name (runs, schedules, comments ...).

Each line of a kind's file is one row, keyed by column name without
``organization_id``; binary columns (documents, history payloads, outputs, Yjs updates)
are base64. Rows come in primary-key order, so the audit chain reads in sequence.
"""

from __future__ import annotations

import base64
from typing import Any

FORMAT = "minibase-org"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ORGANIZATION = "organization.json"
MEMBERS = "members.jsonl"

KIND_OF_TABLE = {
    "flows": "flows",
    "flow_versions": "versions",
    "node_outputs": "outputs",
    "audit_events": "audit",
    "flow_doc_updates": "doc_updates",
    "flow_doc_snapshots": "doc_snapshots",
}
NOT_EXPORTED = frozenset({"api_keys", "invitations", "memberships"})
"""Credentials and pending invitations stay behind; members travel by email."""

ORG_FIELDS = (
    "name",
    "settings",
    "plan",
    "subscription_id",
    "nodes_used",
    "flows_created",
    "storage_used",
    "created_at",
    "updated_at",
)


def kind_of(table_name: str) -> str:
    return str(KIND_OF_TABLE.get(table_name, table_name))  # never a str subclass (orjson)


def file_of(table_name: str) -> str:
    return f"{kind_of(table_name)}.jsonl"


def encode_row(row: dict[str, Any], binary: frozenset[str]) -> dict[str, Any]:
    """A stored row as an archive line (without ``organization_id``)."""
    return {
        k: base64.b64encode(v).decode("ascii") if k in binary and v is not None else v
        for k, v in row.items()
        if k != "organization_id"
    }


def decode_row(line: dict[str, Any], binary: frozenset[str]) -> dict[str, Any]:
    """An archive line as a row to store (``organization_id`` not yet set)."""
    return {
        k: base64.b64decode(v, validate=True) if k in binary and v is not None else v
        for k, v in line.items()
    }


def id_prefix(value: str) -> str:
    """``flow`` for ``flow_abc...``: new ids keep the type prefix of the ones they replace."""
    head, sep, _ = value.partition("_")
    return head if sep and head.isalnum() else "id"
