"""engine: inbound webhooks of flows and their routes

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from minibase.store.rls import enable_tenant_rls, grant_app_role

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_webhooks",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("rotated_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id", "flow_id"],
            ["flows.organization_id", "flows.id"],
            name=op.f("fk_flow_webhooks_organization_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_flow_webhooks")),
    )
    op.create_index("ix_flow_webhooks_org_flow", "flow_webhooks", ["organization_id", "flow_id"])
    op.create_table(
        "webhook_routes",
        sa.Column("webhook_id", sa.String(length=64), nullable=False),
        sa.Column("owner_org", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_org"],
            ["organizations.id"],
            name=op.f("fk_webhook_routes_owner_org_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("webhook_id", name=op.f("pk_webhook_routes")),
    )
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        enable_tenant_rls(conn, "flow_webhooks")
        grant_app_role(conn, context.config.attributes.get("app_role", "minibase_app"))


def downgrade() -> None:
    op.drop_table("webhook_routes")
    op.drop_table("flow_webhooks")
