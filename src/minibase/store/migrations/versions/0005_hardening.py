"""hardening: socket tickets, email verification, instance admins

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from minibase.store.rls import grant_app_role

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "socket_tickets",
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_token", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_hash", name=op.f("pk_socket_tickets")),
    )
    op.create_index("ix_socket_tickets_expires_at", "socket_tickets", ["expires_at"])
    op.create_table(
        "email_verifications",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_email_verifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_email_verifications")),
    )
    op.create_index("ix_email_verifications_user_id", "email_verifications", ["user_id"])
    op.create_table(
        "instance_admins",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("granted_by", sa.String(length=200), nullable=False),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_instance_admins")),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email_verified_at", sa.BigInteger(), nullable=True))
    # Accounts made before verification existed count as verified.
    op.execute("UPDATE users SET email_verified_at = created_at")
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        grant_app_role(conn, context.config.attributes.get("app_role", "minibase_app"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_verified_at")
    op.drop_table("instance_admins")
    op.drop_index("ix_email_verifications_user_id", table_name="email_verifications")
    op.drop_table("email_verifications")
    op.drop_index("ix_socket_tickets_expires_at", table_name="socket_tickets")
    op.drop_table("socket_tickets")
