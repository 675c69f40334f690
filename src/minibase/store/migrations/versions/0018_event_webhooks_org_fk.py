"""event webhooks go with their organization: a cascading foreign key to organizations

Every tenant table's rows are deleted with their org through cascading keys; 0017 gave
``event_webhooks`` none (its deliveries cascade from it). SQLite copies the table to add
the key (migrations run without ``PRAGMA foreign_keys``, so the copy cascades nothing).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

FK = "fk_event_webhooks_organization_id_organizations"


def upgrade() -> None:
    op.execute(
        "DELETE FROM event_webhooks WHERE organization_id NOT IN (SELECT id FROM organizations)"
    )
    with op.batch_alter_table("event_webhooks") as batch:
        batch.create_foreign_key(
            FK, "organizations", ["organization_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("event_webhooks") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
