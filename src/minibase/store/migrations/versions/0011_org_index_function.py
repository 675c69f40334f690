"""minibase_org_index(): every org's id, plan and name, for instance-wide views

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import context, op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    role = context.config.attributes.get("app_role", "minibase_app")
    # Runs as the table owner: ids, names and plans only, for instance admins' views
    # (the API checks the caller is one before it calls this).
    op.execute(
        "CREATE FUNCTION minibase_org_index() "
        "RETURNS TABLE(id varchar, name varchar, plan varchar) "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$ "
        "SELECT id, name, plan FROM organizations ORDER BY created_at, id $$"
    )
    op.execute("REVOKE ALL ON FUNCTION minibase_org_index() FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION minibase_org_index() TO "{role}"')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS minibase_org_index()")
