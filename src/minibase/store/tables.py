"""The relational schema, as SQLAlchemy Core tables shared by SQLite and PostgreSQL.

Tenant tables carry ``organization_id`` as the leading column of their primary key and
of every index, and every foreign key between them includes it, so one org's rows sit
together and the schema can later be distributed by ``organization_id``.
Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

TENANT = {"tenant": True}
"""``Table.info`` of tenant tables: readable only through a tenant unit of work."""


class JSONText(TypeDecorator[Any]):
    """JSON stored as text, serialized with orjson (same bytes on every dialect)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return orjson.dumps(value).decode("utf-8")

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return orjson.loads(value)


def _id(name: str = "id") -> Column[str]:
    return Column(name, String(64), nullable=False)


def _ms(name: str, nullable: bool = False) -> Column[int]:
    return Column(name, BigInteger, nullable=nullable)


# --- global tables ----------------------------------------------------------------------

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("settings", JSONText, nullable=False),
    Column("plan", String(32), nullable=False),
    Column("subscription_id", String(200), nullable=True),
    Column("nodes_used", BigInteger, nullable=False, default=0),
    Column("flows_created", BigInteger, nullable=False, default=0),
    Column("storage_used", BigInteger, nullable=False, default=0),
    _ms("created_at"),
    _ms("updated_at"),
    info={"org_root": True},
)

users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(512), nullable=False),
    _ms("created_at"),
    _ms("password_changed_at"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    _ms("created_at"),
    _ms("last_used_at"),
    _ms("expires_at"),
    _ms("revoked_at", nullable=True),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(512), nullable=True),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
)

idempotency_records = Table(
    "idempotency_records",
    metadata,
    Column("principal_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("headers", JSONText, nullable=False),
    Column("body", LargeBinary, nullable=False),
    _ms("created_at"),
    Index("ix_idempotency_records_created_at", "created_at"),
)

rate_limit_hits = Table(
    "rate_limit_hits",
    metadata,
    Column("bucket", String(400), primary_key=True),
    Column("window_start", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    Column("blocked_until", BigInteger, nullable=False, default=0),
)

# --- tenant tables ----------------------------------------------------------------------

memberships = Table(
    "memberships",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    _ms("created_at"),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    Index("ix_memberships_user_id", "user_id"),
    info=TENANT,
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_by", String(64), nullable=False),
    _ms("created_at"),
    _ms("last_used_at", nullable=True),
    _ms("revoked_at", nullable=True),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    info=TENANT,
)

invitations = Table(
    "invitations",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("invited_by", String(64), nullable=False),
    _ms("created_at"),
    _ms("expires_at"),
    _ms("accepted_at", nullable=True),
    Column("accepted_by", String(64), nullable=True),
    _ms("revoked_at", nullable=True),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    info=TENANT,
)

flows = Table(
    "flows",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", String(500), nullable=False),
    Column("document", LargeBinary, nullable=False),
    Column("node_count", Integer, nullable=False),
    Column("edge_count", Integer, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("history_bytes", BigInteger, nullable=False, default=0),
    Column("version", Integer, nullable=False),
    # The version the live Yjs document last agreed with (see services/collab_bridge.py).
    Column("collab_version", Integer, nullable=True),
    Column("created_by", String(64), nullable=False),
    _ms("created_at"),
    _ms("last_modified"),
    _ms("deleted_at", nullable=True),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    Index("ix_flows_org_deleted_modified", "organization_id", "deleted_at", "last_modified"),
    info=TENANT,
)

flow_versions = Table(
    "flow_versions",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("flow_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_by", String(64), nullable=False),
    _ms("created_at"),
    Column("summary", JSONText, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    info=TENANT,
)

node_outputs = Table(
    "node_outputs",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("flow_id", String(64), nullable=False),
    Column("node_id", String(256), nullable=False),
    Column("output", LargeBinary, nullable=False),
    _ms("timestamp"),
    Column("compute_time", Float, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    Index("ix_node_outputs_org_flow_node_ts", "organization_id", "flow_id", "node_id", "timestamp"),
    Index("ix_node_outputs_org_flow_ts", "organization_id", "flow_id", "timestamp"),
    info=TENANT,
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(64), nullable=False),
    _ms("at"),
    Column("actor_type", String(16), nullable=False),
    Column("actor_id", String(64), nullable=True),
    Column("action", String(100), nullable=False),
    Column("resource_type", String(50), nullable=False),
    Column("resource_id", String(300), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(512), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("details", JSONText, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    Index("ix_audit_events_org_at", "organization_id", "at"),
    info=TENANT,
)


flow_doc_updates = Table(
    "flow_doc_updates",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("flow_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("update", LargeBinary, nullable=False),
    _ms("created_at"),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    info=TENANT,
)
"""The append-only Yjs update log of a flow (collab); compacted into a snapshot."""

flow_doc_snapshots = Table(
    "flow_doc_snapshots",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("flow_id", String(64), primary_key=True),
    Column("state", LargeBinary, nullable=False),
    Column("upto_seq", BigInteger, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    _ms("updated_at"),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    info=TENANT,
)
"""A flow's Yjs state as one update, covering its log up to and including ``upto_seq``."""


def tenant_tables() -> list[Table]:
    """Every table that holds one organization's rows (``organization_id`` leading)."""
    return [t for t in metadata.sorted_tables if t.info.get("tenant")]
