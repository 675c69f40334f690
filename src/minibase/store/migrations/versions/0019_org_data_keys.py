"""encryption at rest: each organization's data key, wrapped by a master key

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from minibase.store.rls import grant_app_role

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_data_keys",
        sa.Column("owner_org", sa.String(length=64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("rewrapped_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_org"],
            ["organizations.id"],
            name=op.f("fk_org_data_keys_owner_org_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_org", name=op.f("pk_org_data_keys")),
    )
    op.create_index("ix_org_data_keys_master_key_id", "org_data_keys", ["master_key_id"])
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        grant_app_role(conn, context.config.attributes.get("app_role", "minibase_app"))


def downgrade() -> None:
    op.drop_table("org_data_keys")
