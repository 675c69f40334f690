"""engine: runs, their nodes, the run queue; node outputs know their run

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from minibase.store.rls import enable_tenant_rls, grant_app_role

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("node_outputs") as batch:
        batch.add_column(sa.Column("run_id", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("cached", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("cache_key", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_node_outputs_org_run_node",
        "node_outputs",
        ["organization_id", "run_id", "node_id"],
        unique=True,
    )
    op.create_index(
        "ix_node_outputs_org_cache_key",
        "node_outputs",
        ["organization_id", "cache_key", "timestamp"],
    )
    op.create_table(
        "runs",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger_type", sa.String(length=16), nullable=False),
        sa.Column("trigger_id", sa.String(length=300), nullable=True),
        sa.Column("dedupe_key", sa.String(length=300), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("spec", sa.LargeBinary(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("compute_ms", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id", "flow_id"],
            ["flows.organization_id", "flows.id"],
            name=op.f("fk_runs_organization_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_runs")),
    )
    op.create_index("ix_runs_org_created", "runs", ["organization_id", "created_at"])
    op.create_index(
        "ix_runs_org_flow_created", "runs", ["organization_id", "flow_id", "created_at"]
    )
    op.create_index(
        "uq_runs_org_dedupe_key", "runs", ["organization_id", "dedupe_key"], unique=True
    )
    op.create_table(
        "run_nodes",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=256), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("compute_time", sa.Float(), nullable=True),
        sa.Column("output_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id", "run_id"],
            ["runs.organization_id", "runs.id"],
            name=op.f("fk_run_nodes_organization_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "run_id", "node_id", name=op.f("pk_run_nodes")),
    )
    op.create_table(
        "run_queue",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("owner_org", sa.String(length=64), nullable=False),
        sa.Column("available_at", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_concurrent", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_org"],
            ["organizations.id"],
            name=op.f("fk_run_queue_owner_org_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_queue")),
    )
    op.create_index("ix_run_queue_available", "run_queue", ["available_at"])
    op.create_index("ix_run_queue_owner_lease", "run_queue", ["owner_org", "lease_expires_at"])
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for table in ("runs", "run_nodes"):
            enable_tenant_rls(conn, table)
        grant_app_role(conn, context.config.attributes.get("app_role", "minibase_app"))


def downgrade() -> None:
    op.drop_table("run_queue")
    op.drop_table("run_nodes")
    op.drop_table("runs")
    op.drop_index("ix_node_outputs_org_cache_key", "node_outputs")
    op.drop_index("uq_node_outputs_org_run_node", "node_outputs")
    with op.batch_alter_table("node_outputs") as batch:
        batch.drop_column("cache_key")
        batch.drop_column("cached")
        batch.drop_column("run_id")
