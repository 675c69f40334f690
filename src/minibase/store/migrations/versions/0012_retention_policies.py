"""retention policies: which organizations keep outputs, runs and versions for how long

A global table (no row-level security), so the periodic retention job can find the orgs
that have a policy without entering each one; the policy itself is the org's
``settings.retention``, copied here whenever it changes.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from minibase.store.rls import grant_app_role

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("outputs_days", sa.Integer(), nullable=True),
        sa.Column("runs_days", sa.Integer(), nullable=True),
        sa.Column("versions_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("applied_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_retention_policies_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_retention_policies")),
    )
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        grant_app_role(conn, context.config.attributes.get("app_role", "minibase_app"))


def downgrade() -> None:
    op.drop_table("retention_policies")
