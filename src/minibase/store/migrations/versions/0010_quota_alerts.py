"""quota alerts: the last threshold each quota was reported at

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from minibase.store.rls import enable_tenant_rls, grant_app_role

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quota_alerts",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("quota", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_quota_alerts_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "quota", name=op.f("pk_quota_alerts")),
    )
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        enable_tenant_rls(conn, "quota_alerts")
        grant_app_role(conn, context.config.attributes.get("app_role", "minibase_app"))


def downgrade() -> None:
    op.drop_table("quota_alerts")
