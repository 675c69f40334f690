"""node outputs indexed by (org, timestamp): the analytics read the bytes written on the
partial days at a range's edges, and retention deletes outputs by age

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_node_outputs_org_ts", "node_outputs", ["organization_id", "timestamp"])


def downgrade() -> None:
    op.drop_index("ix_node_outputs_org_ts", table_name="node_outputs")
