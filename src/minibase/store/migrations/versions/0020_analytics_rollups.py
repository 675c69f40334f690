"""analytics rollups: node executions and runs per day and per 16-day block, backfilled

``analytics_nodes`` and ``analytics_runs`` (store/analytics_rollups.py, docs/insight.md),
filled from every stored run, node record and node output. On PostgreSQL the backfill
reads with ``row_security`` off, so the migrating user must bypass row-level security
(a superuser or a role with ``BYPASSRLS``, as ``minibase backup`` needs); otherwise the
migration fails rather than backfilling nothing. Also an index of versions by time, which
the analytics read per day.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context, op

from minibase.store.analytics_rollups import backfill_statements
from minibase.store.rls import enable_tenant_rls, grant_app_role

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BUCKETS = 37
"""Buckets of the latency histogram at this revision (domain/latency_histogram.py)."""


def _zero(name: str, kind: Any) -> sa.Column[Any]:
    return sa.Column(name, kind, nullable=False, server_default="0")


def _histogram() -> list[sa.Column[Any]]:
    columns: list[sa.Column[Any]] = []
    for i in range(BUCKETS):
        columns += [
            _zero(f"h{i}", sa.Integer()),
            sa.Column(f"lo{i}", sa.Float(), nullable=True),
            sa.Column(f"hi{i}", sa.Float(), nullable=True),
        ]
    return columns


def _keys(*extra: sa.Column[Any]) -> list[sa.Column[Any]]:
    return [
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("span", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("period", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        *extra,
    ]


def upgrade() -> None:
    op.create_table(
        "analytics_nodes",
        *_keys(
            sa.Column("node_id", sa.String(length=256), nullable=False),
            sa.Column("type", sa.String(length=200), nullable=False),
        ),
        _zero("executions", sa.Integer()),
        _zero("failures", sa.Integer()),
        _zero("timed", sa.Integer()),
        _zero("compute_ms", sa.Float()),
        sa.Column("max_ms", sa.Float(), nullable=True),
        _zero("keyed", sa.Integer()),
        _zero("repeats", sa.Integer()),
        _zero("keyed_ms", sa.Float()),
        *_histogram(),
        sa.ForeignKeyConstraint(
            ["organization_id", "flow_id"],
            ["flows.organization_id", "flows.id"],
            name=op.f("fk_analytics_nodes_organization_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id",
            "span",
            "period",
            "flow_id",
            "node_id",
            "type",
            name=op.f("pk_analytics_nodes"),
        ),
    )
    op.create_table(
        "analytics_runs",
        *_keys(),
        _zero("runs", sa.Integer()),
        _zero("failures", sa.Integer()),
        _zero("timed", sa.Integer()),
        sa.Column("max_ms", sa.Float(), nullable=True),
        _zero("output_bytes", sa.BigInteger()),
        *_histogram(),
        sa.ForeignKeyConstraint(
            ["organization_id", "flow_id"],
            ["flows.organization_id", "flows.id"],
            name=op.f("fk_analytics_runs_organization_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "span", "period", "flow_id", name=op.f("pk_analytics_runs")
        ),
    )
    op.create_index(
        "ix_flow_versions_org_created", "flow_versions", ["organization_id", "created_at"]
    )
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SET LOCAL row_security = off"))
    for statement in backfill_statements(org_scoped=False):
        conn.execute(statement)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SET LOCAL row_security = on"))
        enable_tenant_rls(conn, "analytics_nodes")
        enable_tenant_rls(conn, "analytics_runs")
        grant_app_role(conn, context.config.attributes.get("app_role", "minibase_app"))


def downgrade() -> None:
    op.drop_index("ix_flow_versions_org_created", table_name="flow_versions")
    op.drop_table("analytics_runs")
    op.drop_table("analytics_nodes")
