"""collab log storage: count the Yjs update log and snapshots already stored

From this revision on, every append to ``flow_doc_updates`` and every compaction adds
its bytes to ``organizations.storage_used`` and ``flows.history_bytes``; this counts the
rows stored before it, so later compactions (which subtract what they fold) stay exact.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TABLES = ("organizations", "flows", "flow_doc_updates", "flow_doc_snapshots")

_FLOW_BYTES = """
    COALESCE((SELECT SUM(LENGTH(u."update")) FROM flow_doc_updates u
              WHERE u.organization_id = {org} AND u.flow_id = {flow}), 0)
    + COALESCE((SELECT SUM(s.size_bytes) FROM flow_doc_snapshots s
                WHERE s.organization_id = {org} AND s.flow_id = {flow}), 0)
"""

_ORG_BYTES = """
    COALESCE((SELECT SUM(LENGTH(u."update")) FROM flow_doc_updates u
              WHERE u.organization_id = organizations.id), 0)
    + COALESCE((SELECT SUM(s.size_bytes) FROM flow_doc_snapshots s
                WHERE s.organization_id = organizations.id), 0)
"""


def _count(sign: str) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # The owner is subject to row-level security (FORCE): lift it for this transaction.
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    flow_bytes = _FLOW_BYTES.format(org="flows.organization_id", flow="flows.id")
    op.execute(f"UPDATE flows SET history_bytes = history_bytes {sign} ({flow_bytes})")
    op.execute(f"UPDATE organizations SET storage_used = storage_used {sign} ({_ORG_BYTES})")
    if postgres:
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    _count("+")


def downgrade() -> None:
    _count("-")
