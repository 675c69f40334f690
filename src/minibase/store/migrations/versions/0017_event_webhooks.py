"""engine: outbound event webhooks, their deliveries and delivery timers

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from minibase.store.rls import enable_tenant_rls, grant_app_role

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_webhooks",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_event_webhooks")),
    )
    op.create_table(
        "event_deliveries",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("webhook_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=True),
        sa.Column("last_attempt_at", sa.BigInteger(), nullable=True),
        sa.Column("delivered_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id", "webhook_id"],
            ["event_webhooks.organization_id", "event_webhooks.id"],
            name=op.f("fk_event_deliveries_organization_id_event_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_event_deliveries")),
    )
    op.create_index(
        "ix_event_deliveries_org_webhook",
        "event_deliveries",
        ["organization_id", "webhook_id", "created_at"],
    )
    op.create_table(
        "delivery_timers",
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("owner_org", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_org"],
            ["organizations.id"],
            name=op.f("fk_delivery_timers_owner_org_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_delivery_timers")),
    )
    op.create_index("ix_delivery_timers_due_at", "delivery_timers", ["due_at"])
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        enable_tenant_rls(conn, "event_webhooks")
        enable_tenant_rls(conn, "event_deliveries")
        grant_app_role(conn, context.config.attributes.get("app_role", "minibase_app"))


def downgrade() -> None:
    op.drop_table("delivery_timers")
    op.drop_table("event_deliveries")
    op.drop_table("event_webhooks")
