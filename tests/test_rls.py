"""PostgreSQL row-level security: the second wall between tenants."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from minibase.config import Settings
from minibase.domain.principal import SYSTEM
from minibase.ids import new_id, now_ms
from minibase.store.database import Database
from minibase.store.tables import flows
from minibase.store.unit_of_work import Store
from tests.helpers import insert_org

pytestmark = pytest.mark.parametrize("backend", ["postgres"])


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    database = Database(settings.model_copy(update={"database_pool_size": 1}))
    yield Store(database)
    await database.close()


def _flow_values(flow_id: str) -> dict[str, object]:
    now = now_ms()
    return dict(
        id=flow_id,
        name="f",
        document=b"{}",
        node_count=0,
        edge_count=0,
        size_bytes=2,
        history_bytes=0,
        version=1,
        created_by="usr_x",
        created_at=now,
        last_modified=now,
    )


async def _make_flow(store: Store, org_id: str) -> str:
    flow_id = new_id("flow")
    async with store.tenant(org_id, SYSTEM, write=True) as uow:
        await uow.execute(uow.insert(flows, **_flow_values(flow_id)))
    return flow_id


async def test_app_role_is_unprivileged(store: Store) -> None:
    async with store.database.transaction(write=False) as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT r.rolname, r.rolsuper, r.rolbypassrls FROM pg_roles r "
                    "WHERE r.rolname = current_user"
                )
            )
        ).one()
        owned = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                    "AND tableowner = current_user"
                )
            )
        ).scalar_one()
    assert row.rolname == "minibase_app"
    assert row.rolsuper is False
    assert row.rolbypassrls is False
    assert owned == 0


async def test_every_tenant_table_has_forced_rls_and_a_policy(store: Store) -> None:
    async with store.database.transaction(write=False) as conn:
        tables = (
            await conn.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                    "AND c.relkind = 'r' AND EXISTS (SELECT 1 FROM information_schema.columns col "
                    "WHERE col.table_schema = 'public' AND col.table_name = c.relname "
                    "AND col.column_name = 'organization_id')"
                )
            )
        ).all()
        policies = (
            await conn.execute(
                text(
                    "SELECT tablename, qual, with_check FROM pg_policies "
                    "WHERE schemaname = 'public' AND policyname = 'tenant_isolation'"
                )
            )
        ).all()
    assert len(tables) >= 7
    by_table = {p.tablename: p for p in policies}
    for table in tables:
        assert table.relrowsecurity, f"{table.relname}: RLS not enabled"
        assert table.relforcerowsecurity, f"{table.relname}: RLS not forced"
        policy = by_table.get(table.relname)
        assert policy is not None, f"{table.relname}: no tenant_isolation policy"
        assert "minibase.org_id" in policy.qual
        assert "minibase.org_id" in policy.with_check


async def test_other_orgs_rows_are_invisible_and_unwritable(store: Store) -> None:
    org_a, org_b = await insert_org(store), await insert_org(store)
    flow_a, flow_b = await _make_flow(store, org_a), await _make_flow(store, org_b)

    async with store.tenant(org_a, SYSTEM) as uow:
        # A hand-written query without the org filter: RLS still confines it.
        ids = (await uow.execute(text("SELECT id FROM flows"))).scalars().all()
        orgs = (await uow.execute(text("SELECT id FROM organizations"))).scalars().all()
    assert ids == [flow_a]
    assert orgs == [org_a]

    with pytest.raises(DBAPIError, match="row-level security"):
        async with store.tenant(org_a, SYSTEM, write=True) as uow:
            values = {**_flow_values(new_id("flow")), "organization_id": org_b}
            await uow.execute(flows.insert().values(**values))

    with pytest.raises(DBAPIError, match="row-level security"):
        async with store.tenant(org_a, SYSTEM, write=True) as uow:
            await uow.execute(
                text("UPDATE flows SET organization_id = :b WHERE id = :id"),
                {"b": org_b, "id": flow_a},
            )

    async with store.tenant(org_a, SYSTEM, write=True) as uow:
        result = await uow.execute(text("DELETE FROM flows WHERE id = :id"), {"id": flow_b})
        assert result.rowcount == 0
    async with store.tenant(org_b, SYSTEM) as uow:
        still = (await uow.execute(text("SELECT id FROM flows"))).scalars().all()
    assert still == [flow_b]


async def test_without_org_setting_nothing_is_visible(store: Store) -> None:
    org_a = await insert_org(store)
    await _make_flow(store, org_a)
    async with store.database.transaction(write=False) as conn:
        assert (await conn.execute(text("SELECT count(*) FROM flows"))).scalar_one() == 0
        assert (await conn.execute(text("SELECT count(*) FROM organizations"))).scalar_one() == 0
        await conn.execute(text("SELECT set_config('minibase.org_id', '', true)"))
        assert (await conn.execute(text("SELECT count(*) FROM flows"))).scalar_one() == 0


async def test_org_setting_never_leaks_to_the_next_transaction(store: Store) -> None:
    org_a = await insert_org(store)
    await _make_flow(store, org_a)
    async with store.tenant(org_a, SYSTEM) as uow:
        pid_a = (await uow.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    async with store.database.transaction(write=False) as conn:
        pid_next = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        setting = (
            await conn.execute(text("SELECT current_setting('minibase.org_id', true)"))
        ).scalar_one()
        visible = (await conn.execute(text("SELECT count(*) FROM flows"))).scalar_one()
    assert pid_next == pid_a, "the pool of one should reuse the same connection"
    assert setting in (None, "")
    assert visible == 0


async def test_a_rollback_never_drops_the_app_role(settings: Settings) -> None:
    """The role is set once per pooled connection: the connection's first transaction
    rolling back (any 404 or 422 does) must not hand it back as the migrating user."""
    database = Database(settings.model_copy(update={"database_pool_size": 1}))
    store = Store(database)

    class Refused(Exception):
        pass

    try:
        for _ in range(2):
            with pytest.raises(Refused):
                async with store.tenant(new_id("org"), SYSTEM, write=True):
                    raise Refused
            async with database.transaction(write=False) as conn:
                user = (await conn.execute(text("SELECT current_user"))).scalar_one()
            assert user == "minibase_app"
    finally:
        await database.close()
