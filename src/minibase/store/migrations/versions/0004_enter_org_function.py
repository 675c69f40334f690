"""minibase_enter_org(): a tenant transaction's settings and org row lock in one round trip

Every tenant transaction on PostgreSQL sets ``minibase.org_id`` / ``minibase.user_id``
(row-level security reads them) and, when it writes, locks its organization's row first.
Two statements were two network round trips inside the writers' critical section; this
function does both in one. It runs as the caller (SECURITY INVOKER), so the lock is taken
under row-level security with the settings it has just made.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SIGNATURE = "minibase_enter_org(text, text, boolean)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    role = context.config.attributes.get("app_role", "minibase_app")
    op.execute(
        "CREATE FUNCTION minibase_enter_org(org text, usr text, lock_org boolean) "
        "RETURNS void LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$ BEGIN "
        "PERFORM set_config('minibase.org_id', org, true); "
        "PERFORM set_config('minibase.user_id', usr, true); "
        "IF lock_org THEN "
        "PERFORM 1 FROM public.organizations WHERE id = org FOR UPDATE; "
        "END IF; "
        "END $$"
    )
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "{role}"')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
