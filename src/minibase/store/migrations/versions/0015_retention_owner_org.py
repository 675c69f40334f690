"""retention policies: the org column is ``owner_org``, as in every other global table

``retention_policies`` is global on purpose (the retention job lists the orgs that have a
policy without entering each one), so it carries no row-level security. A column named
``organization_id`` marks a tenant table, which must have forced RLS; the global tables
(``run_queue``, ``schedule_timers``) name theirs ``owner_org`` instead, and so does this one
now.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


OLD_FK = "fk_retention_policies_organization_id_organizations"
NEW_FK = "fk_retention_policies_owner_org_organizations"


def _rename(old: str, new: str, old_fk: str, new_fk: str) -> None:
    # A plain column rename (PostgreSQL, and SQLite since 3.25) keeps the primary key and
    # the foreign key pointing at the renamed column, so no batch copy of the table. SQLite
    # keeps the foreign key's old name (names there are only labels); PostgreSQL renames it.
    op.alter_column("retention_policies", old, new_column_name=new)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE retention_policies RENAME CONSTRAINT {old_fk} TO {new_fk}")


def upgrade() -> None:
    _rename("organization_id", "owner_org", OLD_FK, NEW_FK)


def downgrade() -> None:
    _rename("owner_org", "organization_id", NEW_FK, OLD_FK)
