"""tasks and templates

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from minibase.store.rls import enable_tenant_rls, grant_app_role

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"],
        ["organizations.id"],
        name=op.f(f"fk_{table}_organization_id_organizations"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=True),
        sa.Column("node_id", sa.String(length=256), nullable=True),
        sa.Column("assignee_id", sa.String(length=64), nullable=True),
        sa.Column("due_at", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        _org_fk("tasks"),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_tasks")),
    )
    op.create_index("ix_tasks_org_created", "tasks", ["organization_id", "created_at"])
    op.create_index("ix_tasks_org_assignee", "tasks", ["organization_id", "assignee_id"])
    op.create_index("ix_tasks_org_flow", "tasks", ["organization_id", "flow_id"])
    op.create_table(
        "templates",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("node_count", sa.Integer(), nullable=False),
        sa.Column("edge_count", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("source_flow_id", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        _org_fk("templates"),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_templates")),
    )
    op.create_index("ix_templates_org_created", "templates", ["organization_id", "created_at"])
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for table in ("tasks", "templates"):
            enable_tenant_rls(conn, table)
        grant_app_role(conn, context.config.attributes.get("app_role", "minibase_app"))


def downgrade() -> None:
    op.drop_table("templates")
    op.drop_table("tasks")
