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
    Boolean,
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

from minibase.domain.latency_histogram import BUCKETS as HISTOGRAM_BUCKETS

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

SEALED = {"sealed": True}
"""``Column.info`` of columns stored encrypted under their org's data key, bound to the
row's primary key (``store/data_keys.py``, docs/security.md)."""


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
    # Null until the address is verified (only asked for with
    # MINIBASE_REQUIRE_EMAIL_VERIFICATION; services/email_verification.py).
    _ms("email_verified_at", nullable=True),
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

socket_tickets = Table(
    "socket_tickets",
    metadata,
    Column("ticket_hash", String(64), primary_key=True),
    # The token behind the ticket, sealed with a key derived from the ticket itself: the
    # table alone reveals no token (auth/socket_tickets.py).
    Column("sealed_token", LargeBinary, nullable=False),
    _ms("created_at"),
    _ms("expires_at"),
    Index("ix_socket_tickets_expires_at", "expires_at"),
)
"""Single-use tickets for ``?ticket=`` on sockets (``POST /v1/socket-tickets``)."""

email_verifications = Table(
    "email_verifications",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("email", String(320), nullable=False),
    _ms("created_at"),
    _ms("expires_at"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
)
"""Pending email verifications; a row is deleted when its link is used."""

instance_admins = Table(
    "instance_admins",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("granted_by", String(200), nullable=False),
    _ms("granted_at"),
)
"""Instance admins granted with ``minibase admin grant`` (besides MINIBASE_INSTANCE_ADMINS),
by normalized email, so an address may be granted before its account exists."""

rate_limit_hits = Table(
    "rate_limit_hits",
    metadata,
    Column("bucket", String(400), primary_key=True),
    Column("window_start", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    Column("blocked_until", BigInteger, nullable=False, default=0),
)

org_data_keys = Table(
    "org_data_keys",
    metadata,
    Column("owner_org", String(64), primary_key=True),
    # AES-GCM(master key, data key), bound to the org (crypto/envelope.py): never plaintext.
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("master_key_id", String(16), nullable=False),
    _ms("created_at"),
    _ms("rewrapped_at", nullable=True),
    ForeignKeyConstraint(["owner_org"], ["organizations.id"], ondelete="CASCADE"),
    Index("ix_org_data_keys_master_key_id", "master_key_id"),
)
"""Each org's data key, wrapped by a master key (global: rotation and the start-up check
read every org's; migration 0019). Deleting the org deletes its key (crypto-shredding)."""

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
    Column("document", LargeBinary, nullable=False, info=SEALED),
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
    Column("payload", LargeBinary, nullable=False, info=SEALED),
    Column("size_bytes", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    Index("ix_flow_versions_org_created", "organization_id", "created_at"),
    info=TENANT,
)

node_outputs = Table(
    "node_outputs",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("flow_id", String(64), nullable=False),
    Column("node_id", String(256), nullable=False),
    Column("output", LargeBinary, nullable=False, info=SEALED),
    _ms("timestamp"),
    Column("compute_time", Float, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    # Set on outputs written by runs (engine, migration 0006).
    Column("run_id", String(64), nullable=True),
    Column("cached", Boolean, nullable=False, default=False),
    Column("cache_key", String(64), nullable=True),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    Index("ix_node_outputs_org_flow_node_ts", "organization_id", "flow_id", "node_id", "timestamp"),
    Index("ix_node_outputs_org_flow_ts", "organization_id", "flow_id", "timestamp"),
    Index("uq_node_outputs_org_run_node", "organization_id", "run_id", "node_id", unique=True),
    Index("ix_node_outputs_org_cache_key", "organization_id", "cache_key", "timestamp"),
    # An output's earlier ones of the same node and key (the analytics' repeats, 0022);
    # on PostgreSQL its text columns are in the "C" collation (0023).
    Index(
        "ix_node_outputs_org_key_node",
        "organization_id",
        "cache_key",
        "flow_id",
        "node_id",
        "timestamp",
    ),
    Index("ix_node_outputs_org_ts", "organization_id", "timestamp"),
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
    Column("update", LargeBinary, nullable=False, info=SEALED),
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
    Column("state", LargeBinary, nullable=False, info=SEALED),
    Column("upto_seq", BigInteger, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    _ms("updated_at"),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    info=TENANT,
)
"""A flow's Yjs state as one update, covering its log up to and including ``upto_seq``."""


# --- the flow engine (migration 0006) ------------------------------------------------------

runs = Table(
    "runs",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("flow_id", String(64), nullable=False),
    Column("flow_version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("trigger_type", String(16), nullable=False),
    Column("trigger_id", String(300), nullable=True),
    Column("dedupe_key", String(300), nullable=True),
    Column("created_by", String(64), nullable=False),
    _ms("created_at"),
    _ms("started_at", nullable=True),
    _ms("finished_at", nullable=True),
    Column("error", JSONText, nullable=True),
    Column("spec", LargeBinary, nullable=False, info=SEALED),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("compute_ms", Float, nullable=False, server_default="0"),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    Index("ix_runs_org_created", "organization_id", "created_at"),
    Index("ix_runs_org_flow_created", "organization_id", "flow_id", "created_at"),
    Index("uq_runs_org_dedupe_key", "organization_id", "dedupe_key", unique=True),
    info=TENANT,
)
"""A run of a flow; ``spec`` holds the nodes and edges it runs, its inputs and payload."""

run_nodes = Table(
    "run_nodes",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("run_id", String(64), primary_key=True),
    Column("node_id", String(256), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("type", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cached", Boolean, nullable=False, default=False),
    _ms("started_at", nullable=True),
    _ms("finished_at", nullable=True),
    Column("compute_time", Float, nullable=True),
    Column("output_id", String(64), nullable=True),
    Column("error", JSONText, nullable=True),
    ForeignKeyConstraint(
        ["organization_id", "run_id"], ["runs.organization_id", "runs.id"], ondelete="CASCADE"
    ),
    info=TENANT,
)


def _histogram() -> list[Column[Any]]:
    """A latency histogram as columns (``domain/latency_histogram.py``): per bucket ``i``
    its count ``h{i}`` and its smallest and largest value ``lo{i}``, ``hi{i}`` (ms)."""
    columns: list[Column[Any]] = []
    for i in range(HISTOGRAM_BUCKETS):
        columns += [
            Column(f"h{i}", Integer, nullable=False, server_default="0"),
            Column(f"lo{i}", Float, nullable=True),
            Column(f"hi{i}", Float, nullable=True),
        ]
    return columns


analytics_nodes = Table(
    "analytics_nodes",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    # 1: one UTC day; 16: sixteen days aligned on the epoch (services/analytics.py).
    Column("span", Integer, primary_key=True, autoincrement=False),
    Column("period", BigInteger, primary_key=True, autoincrement=False),
    Column("flow_id", String(64), primary_key=True),
    Column("node_id", String(256), primary_key=True),
    Column("type", String(200), primary_key=True),
    Column("executions", Integer, nullable=False, server_default="0"),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("timed", Integer, nullable=False, server_default="0"),
    Column("compute_ms", Float, nullable=False, server_default="0"),
    Column("max_ms", Float, nullable=True),
    Column("keyed", Integer, nullable=False, server_default="0"),
    Column("repeats", Integer, nullable=False, server_default="0"),
    Column("keyed_ms", Float, nullable=False, server_default="0"),
    *_histogram(),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    info=TENANT,
)
"""Node executions per period of their run's creation (store/analytics_rollups.py)."""

analytics_runs = Table(
    "analytics_runs",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("span", Integer, primary_key=True, autoincrement=False),
    Column("period", BigInteger, primary_key=True, autoincrement=False),
    Column("flow_id", String(64), primary_key=True),
    Column("runs", Integer, nullable=False, server_default="0"),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("timed", Integer, nullable=False, server_default="0"),
    Column("max_ms", Float, nullable=True),
    Column("output_bytes", BigInteger, nullable=False, server_default="0"),
    *_histogram(),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    info=TENANT,
)
"""Runs per period of their creation, their wall times, and node output bytes per period
of the outputs' timestamps (store/analytics_rollups.py)."""

run_queue = Table(
    "run_queue",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("owner_org", String(64), nullable=False),
    _ms("available_at"),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", BigInteger, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_concurrent", Integer, nullable=True),
    _ms("created_at"),
    ForeignKeyConstraint(["owner_org"], ["organizations.id"], ondelete="CASCADE"),
    Index("ix_run_queue_available", "available_at"),
    Index("ix_run_queue_owner_lease", "owner_org", "lease_expires_at"),
)
"""Runs waiting for, or held by, a worker (global: workers claim across orgs). A row is
leased to one worker until ``lease_expires_at``; a worker that dies lets its lease lapse
and another claims the run."""


# --- working together (services/comments.py, services/notifications.py) ---------------------

comments = Table(
    "comments",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("flow_id", String(64), nullable=False),
    Column("node_id", String(256), nullable=True),
    Column("parent_id", String(64), nullable=True),
    Column("author_id", String(64), nullable=False),
    Column("body", Text, nullable=False, info=SEALED),
    Column("mentions", JSONText, nullable=False),
    Column("resolved", Boolean, nullable=False, default=False),
    Column("resolved_by", String(64), nullable=True),
    _ms("resolved_at", nullable=True),
    _ms("created_at"),
    _ms("edited_at", nullable=True),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    Index("ix_comments_org_flow_created", "organization_id", "flow_id", "created_at"),
    Index("ix_comments_org_parent", "organization_id", "parent_id"),
    info=TENANT,
)
"""Comments on a flow or one of its nodes; a reply names its thread's first comment."""

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    # The org the notification comes from (no tenant table: not ``organization_id``).
    Column("source_org_id", String(64), nullable=True),
    Column("data", JSONText, nullable=False),
    _ms("created_at"),
    _ms("read_at", nullable=True),
    # pending -> sending -> sent | failed; off when the user's preference says no mail.
    Column("email_status", String(16), nullable=False),
    _ms("email_claimed_at", nullable=True),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    Index("ix_notifications_user_created", "user_id", "created_at"),
    Index("ix_notifications_email_status", "email_status", "created_at"),
)
"""Per-user notifications (global: a user's notifications span their organizations)."""

notification_preferences = Table(
    "notification_preferences",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("emails", JSONText, nullable=False),
    _ms("updated_at"),
    ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
)
"""Which notification kinds a user also gets by mail (missing kinds: the default)."""


tasks = Table(
    "tasks",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("title", String(500), nullable=False),
    Column("description", Text, nullable=False),
    Column("flow_id", String(64), nullable=True),
    Column("node_id", String(256), nullable=True),
    Column("assignee_id", String(64), nullable=True),
    _ms("due_at", nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_by", String(64), nullable=False),
    _ms("created_at"),
    _ms("updated_at"),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    Index("ix_tasks_org_created", "organization_id", "created_at"),
    Index("ix_tasks_org_assignee", "organization_id", "assignee_id"),
    Index("ix_tasks_org_flow", "organization_id", "flow_id"),
    info=TENANT,
)
"""Tasks, optionally tied to a flow or one of its nodes (services/tasks.py)."""

templates = Table(
    "templates",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", String(500), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", JSONText, nullable=False),
    Column("document", LargeBinary, nullable=False, info=SEALED),
    Column("node_count", Integer, nullable=False),
    Column("edge_count", Integer, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("source_flow_id", String(64), nullable=True),
    Column("created_by", String(64), nullable=False),
    _ms("created_at"),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    Index("ix_templates_org_created", "organization_id", "created_at"),
    info=TENANT,
)
"""Flow templates: a flow's nodes and edges to start new flows from (services/templates.py)."""


quota_alerts = Table(
    "quota_alerts",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("quota", String(32), primary_key=True),
    Column("level", Integer, nullable=False),
    _ms("updated_at"),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    info=TENANT,
)
"""The last threshold (0, 80, 95, 100 %) each quota of an org was reported at
(services/quota_alerts.py): a crossing is notified once."""


retention_policies = Table(
    "retention_policies",
    metadata,
    Column("owner_org", String(64), primary_key=True),
    Column("outputs_days", Integer, nullable=True),
    Column("runs_days", Integer, nullable=True),
    Column("versions_days", Integer, nullable=True),
    _ms("updated_at"),
    _ms("applied_at", nullable=True),
    ForeignKeyConstraint(["owner_org"], ["organizations.id"], ondelete="CASCADE"),
)
"""A copy of each org's ``settings.retention`` that has one (services/retention.py), global
so that the periodic job finds the orgs to visit without entering every org."""

flow_followers = Table(
    "flow_followers",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("flow_id", String(64), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    _ms("created_at"),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    info=TENANT,
)
"""Who follows a flow: its failed runs notify them (``run_failed``)."""

dashboards = Table(
    "dashboards",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("owner_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("charts", JSONText, nullable=False),
    Column("filters", JSONText, nullable=False),
    Column("shared", Boolean, nullable=False, default=False),
    _ms("created_at"),
    _ms("updated_at"),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    Index("ix_dashboards_org_owner", "organization_id", "owner_id"),
    info=TENANT,
)
"""Custom analytics dashboards: a member's saved charts and filters (services/dashboards.py)."""


schedules = Table(
    "schedules",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("flow_id", String(64), nullable=False),
    Column("cron", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("inputs", JSONText, nullable=False),
    Column("enabled", Boolean, nullable=False),
    _ms("next_run_at", nullable=True),
    _ms("last_run_at", nullable=True),
    Column("last_run_id", String(64), nullable=True),
    Column("created_by", String(64), nullable=False),
    _ms("created_at"),
    _ms("updated_at"),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    Index("ix_schedules_org_flow", "organization_id", "flow_id"),
    info=TENANT,
)
"""Cron schedules of flows (migration 0014)."""

schedule_timers = Table(
    "schedule_timers",
    metadata,
    Column("schedule_id", String(64), primary_key=True),
    Column("owner_org", String(64), nullable=False),
    _ms("next_fire_at"),
    ForeignKeyConstraint(["owner_org"], ["organizations.id"], ondelete="CASCADE"),
    Index("ix_schedule_timers_next_fire_at", "next_fire_at"),
)
"""The next fire time of each enabled schedule (global: schedulers look across orgs).
Written in the same transaction as its schedule; a fire advances it under a row lock."""


flow_webhooks = Table(
    "flow_webhooks",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("flow_id", String(64), nullable=False),
    Column("name", String(200), nullable=True),
    # AES-GCM under the instance's webhook key (crypto/webhook_secrets.py): never plaintext.
    Column("sealed_secret", LargeBinary, nullable=False),
    Column("created_by", String(64), nullable=False),
    _ms("created_at"),
    _ms("rotated_at", nullable=True),
    ForeignKeyConstraint(
        ["organization_id", "flow_id"], ["flows.organization_id", "flows.id"], ondelete="CASCADE"
    ),
    Index("ix_flow_webhooks_org_flow", "organization_id", "flow_id"),
    info=TENANT,
)
"""Inbound webhooks of flows: ``POST /v1/hooks/{id}`` starts a run (migration 0016)."""

webhook_routes = Table(
    "webhook_routes",
    metadata,
    Column("webhook_id", String(64), primary_key=True),
    Column("owner_org", String(64), nullable=False),
    ForeignKeyConstraint(["owner_org"], ["organizations.id"], ondelete="CASCADE"),
)
"""Which org an inbound webhook belongs to (global: ``/v1/hooks/{id}`` names no org).
Written in the same transaction as the webhook."""


event_webhooks = Table(
    "event_webhooks",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("events", JSONText, nullable=False),
    Column("sealed_secret", LargeBinary, nullable=False),
    Column("created_by", String(64), nullable=False),
    _ms("created_at"),
    ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
    info=TENANT,
)
"""Outbound event webhooks of an org (migrations 0017, 0018)."""

event_deliveries = Table(
    "event_deliveries",
    metadata,
    Column("organization_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("webhook_id", String(64), nullable=False),
    Column("event", String(64), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("response_status", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    _ms("next_attempt_at", nullable=True),
    _ms("last_attempt_at", nullable=True),
    _ms("delivered_at", nullable=True),
    _ms("created_at"),
    ForeignKeyConstraint(
        ["organization_id", "webhook_id"],
        ["event_webhooks.organization_id", "event_webhooks.id"],
        ondelete="CASCADE",
    ),
    Index("ix_event_deliveries_org_webhook", "organization_id", "webhook_id", "created_at"),
    info=TENANT,
)
"""One row per event sent to one event webhook: its payload, attempts and outcome."""

delivery_timers = Table(
    "delivery_timers",
    metadata,
    Column("delivery_id", String(64), primary_key=True),
    Column("owner_org", String(64), nullable=False),
    _ms("due_at"),
    ForeignKeyConstraint(["owner_org"], ["organizations.id"], ondelete="CASCADE"),
    Index("ix_delivery_timers_due_at", "due_at"),
)
"""When each pending delivery is next tried (global: the delivery loop looks across
orgs). A claim moves it a lease ahead; a process that dies lets the lease lapse."""


def tenant_tables() -> list[Table]:
    """Every table that holds one organization's rows (``organization_id`` leading)."""
    return [t for t in metadata.sorted_tables if t.info.get("tenant")]
