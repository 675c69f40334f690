"""node outputs indexed by (org, cache key, flow, node, timestamp): the analytics writers
ask, for every node a run computed, whether an earlier output of that node had its cache
key; with only (org, cache key, timestamp) that read every output of the key, of every
node, so its cost grew with the org's history (and with how many nodes share a key)

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_node_outputs_org_key_node",
        "node_outputs",
        ["organization_id", "cache_key", "flow_id", "node_id", "timestamp"],
    )


def downgrade() -> None:
    op.drop_index("ix_node_outputs_org_key_node", table_name="node_outputs")
