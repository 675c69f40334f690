"""PostgreSQL row-level security: the second wall between tenants.

Migrations call these helpers. Every tenant table gets ``ENABLE`` and ``FORCE ROW LEVEL
SECURITY`` and a policy whose ``USING`` and ``WITH CHECK`` compare ``organization_id`` with
``current_setting('minibase.org_id', true)``: when the setting is missing or empty, the
comparison is NULL or false, so nothing is visible and nothing can be written.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

ORG_SETTING = "current_setting('minibase.org_id', true)"
USER_SETTING = "current_setting('minibase.user_id', true)"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def enable_tenant_rls(conn: Connection, table: str) -> None:
    """Confine ``table`` to the organization named by ``minibase.org_id``."""
    t = _q(table)
    conn.execute(text(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY"))
    conn.execute(text(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY"))
    conn.execute(
        text(
            f"CREATE POLICY tenant_isolation ON {t} "
            f"USING (organization_id = {ORG_SETTING}) "
            f"WITH CHECK (organization_id = {ORG_SETTING})"
        )
    )


def ensure_app_role(conn: Connection, role: str) -> None:
    """Create the unprivileged role the server acts as (shared by databases of a cluster)."""
    literal = role.replace("'", "''")
    conn.execute(
        text(
            "DO $$ BEGIN "
            f"IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{literal}') THEN "
            f"CREATE ROLE {_q(role)} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; "
            "END IF; "
            "EXCEPTION WHEN duplicate_object THEN NULL; "
            "END $$"
        )
    )
    # The migrating user must be able to SET ROLE to it when it serves requests.
    conn.execute(text(f"GRANT {_q(role)} TO CURRENT_USER"))


def grant_app_role(conn: Connection, role: str) -> None:
    """Let the app role use (never own) every table and sequence of the schema."""
    r = _q(role)
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {r}"))
    conn.execute(
        text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}")
    )
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {r}"))
    conn.execute(text(f"REVOKE ALL ON TABLE alembic_version FROM {r}"))
