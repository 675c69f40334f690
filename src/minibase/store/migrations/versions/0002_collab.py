"""collab: Yjs update log and snapshots of flows

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from minibase.store.rls import enable_tenant_rls, grant_app_role

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("flow_doc_updates", "flow_doc_snapshots")


def upgrade() -> None:
    op.create_table(
        "flow_doc_updates",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("update", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id", "flow_id"],
            ["flows.organization_id", "flows.id"],
            name=op.f("fk_flow_doc_updates_organization_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "flow_id", "seq", name=op.f("pk_flow_doc_updates")
        ),
    )
    op.create_table(
        "flow_doc_snapshots",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("upto_seq", sa.BigInteger(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id", "flow_id"],
            ["flows.organization_id", "flows.id"],
            name=op.f("fk_flow_doc_snapshots_organization_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "flow_id", name=op.f("pk_flow_doc_snapshots")),
    )
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for table in TABLES:
            enable_tenant_rls(conn, table)
        grant_app_role(conn, context.config.attributes.get("app_role", "minibase_app"))


def downgrade() -> None:
    op.drop_table("flow_doc_snapshots")
    op.drop_table("flow_doc_updates")
