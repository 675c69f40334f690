"""The store's hot path: prepared tenant statements, commit hooks, pooled connections."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import OperationalError

from minibase.config import Settings
from minibase.domain.principal import SYSTEM
from minibase.ids import new_id, now_ms
from minibase.store import database as database_module
from minibase.store.backup import sqlite_path
from minibase.store.database import Database
from minibase.store.tables import flows
from minibase.store.unit_of_work import (
    Store,
    TenantScopeError,
    prepared,
    prepared_postgres,
    scoped_insert,
    scoped_select,
    scoped_update,
)
from tests.helpers import insert_org
from tests.services import _pg_admin

FLOW_NAMES = prepared(scoped_select(flows, flows.c.id, flows.c.name).order_by(flows.c.id))
RENAME = prepared(scoped_update(flows).values(name=bindparam("new_name")))
INSERT_FLOW = prepared(scoped_insert(flows))


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    database = Database(settings)
    yield Store(database)
    await database.close()


async def _org_with_flow(store: Store, name: str) -> str:
    org_id, now = await insert_org(store), now_ms()
    async with store.tenant(org_id, SYSTEM, write=True) as uow:
        await uow.execute(
            INSERT_FLOW,
            {
                "id": new_id("flow"),
                "name": name,
                "document": b"{}",
                "node_count": 0,
                "edge_count": 0,
                "size_bytes": 2,
                "history_bytes": 0,
                "version": 1,
                "created_by": "usr_x",
                "created_at": now,
                "last_modified": now,
            },
        )
    return org_id


async def test_prepared_statements_stay_in_their_org(store: Store) -> None:
    first = await _org_with_flow(store, "first")
    second = await _org_with_flow(store, "second")
    async with store.tenant(first, SYSTEM, write=True) as uow:
        await uow.execute(RENAME, {"new_name": "renamed"})
        assert [r.name for r in (await uow.execute(FLOW_NAMES)).all()] == ["renamed"]
    async with store.tenant(second, SYSTEM) as uow:
        # The prepared UPDATE touched only the first org's flow; the insert stamped the org.
        assert [r.name for r in (await uow.execute(FLOW_NAMES)).all()] == ["second"]


def test_only_scoped_statements_can_be_prepared() -> None:
    with pytest.raises(TenantScopeError):
        prepared_postgres("SELECT name FROM flows", [])
    with pytest.raises(TenantScopeError):
        prepared_postgres("SELECT name FROM flows WHERE organization_id = $10", [])
    with pytest.raises(TenantScopeError):
        prepared(select(flows.c.id))
    with pytest.raises(TenantScopeError):
        prepared(select(flows.c.id).where(flows.c.organization_id == bindparam("org")))


async def test_prepared_statements_need_a_tenant_unit_of_work(store: Store) -> None:
    async with store.global_(SYSTEM) as uow:
        with pytest.raises(TenantScopeError):
            await uow.execute(FLOW_NAMES)


async def test_a_list_of_parameter_sets_runs_the_statement_once_per_set(store: Store) -> None:
    org = await _org_with_flow(store, "a")
    now = now_ms()
    row = {
        "document": b"{}",
        "node_count": 0,
        "edge_count": 0,
        "size_bytes": 2,
        "history_bytes": 0,
        "version": 1,
        "created_by": "usr_x",
        "created_at": now,
        "last_modified": now,
    }
    async with store.tenant(org, SYSTEM, write=True) as uow:
        await uow.execute(INSERT_FLOW, [{**row, "id": f"flow_{n}", "name": n} for n in "bc"])
        assert sorted(r.name for r in (await uow.execute(FLOW_NAMES)).all()) == ["a", "b", "c"]


async def test_postgres_text_is_scoped_by_its_first_parameter(store: Store) -> None:
    first = await _org_with_flow(store, "first")
    second = await _org_with_flow(store, "second")
    async with store.tenant(first, SYSTEM) as uow:
        scoped = prepared_postgres("SELECT name FROM flows WHERE organization_id = $1", [])
        if not uow.is_postgres:
            with pytest.raises(TenantScopeError):
                await uow.execute(scoped)
            return
        rows = (await uow.execute(scoped)).all()
        assert [r.name for r in rows] == ["first"]
        # Row-level security is the second wall: text that forgets to scope sees only the
        # org its transaction entered.
        leaky = prepared_postgres("SELECT name FROM flows WHERE $1::text IS NOT NULL", [])
        assert [r.name for r in (await uow.execute(leaky)).all()] == ["first"]
    assert second


async def test_an_org_id_that_is_not_a_plain_id_is_never_spliced_into_sql(
    store: Store,
) -> None:
    org = await _org_with_flow(store, "f")
    hostile = "x', 'y', true); DROP TABLE flows; --"
    for write in (False, True):
        async with store.tenant(hostile, SYSTEM, write=write) as uow:
            assert (await uow.execute(FLOW_NAMES)).all() == []
    async with store.tenant(org, SYSTEM) as uow:
        assert [r.name for r in (await uow.execute(FLOW_NAMES)).all()] == ["f"]


async def test_commit_hooks_run_only_after_a_commit(store: Store) -> None:
    org = await _org_with_flow(store, "f")
    ran: list[str] = []
    async with store.tenant(org, SYSTEM, write=True) as uow:
        uow.on_commit.append(lambda: ran.append("committed"))
        assert ran == []
    assert ran == ["committed"]

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with store.tenant(org, SYSTEM, write=True) as uow:
            uow.on_commit.append(lambda: ran.append("rolled back"))
            raise Boom
    assert ran == ["committed"]


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_dropped_idle_connection_is_replaced_unseen(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pooled connections are pinged only after sitting idle; a dead one is replaced."""
    org = await _org_with_flow(store, "f")
    async with store.tenant(org, SYSTEM) as uow:
        pid = (await uow.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    await _pg_admin(f"SELECT pg_terminate_backend({int(pid)})")
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    for _ in range(3):
        async with store.tenant(org, SYSTEM) as uow:
            assert [r.name for r in (await uow.execute(FLOW_NAMES)).all()] == ["f"]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_writers_yield_once_holding_the_lock(store: Store) -> None:
    """So that writers queue in arrival order and the loop reads sockets between them
    (see Database.transaction): a task started after a writer runs before its statements."""
    order: list[str] = []

    async def writer(name: str) -> None:
        async with store.database.transaction(write=True):
            order.append(name)

    async def bystander() -> None:
        order.append("bystander")

    await asyncio.gather(writer("first"), bystander(), writer("second"))
    assert order == ["bystander", "first", "second"]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_write_transactions_begin_immediate_and_a_failed_begin_is_a_store_error(
    store: Store,
) -> None:
    """BEGIN IMMEDIATE runs on the driver's connection (not through SQLAlchemy's execution
    path): it still takes the write lock at once, and "database is locked" still arrives as
    SQLAlchemy's error, which the callers handle."""
    path = sqlite_path(store.database.settings)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        async with store.database.transaction(write=True):
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")  # the writer holds the lock already
        writer = store.database._writer().connection.dbapi_connection
        assert writer is not None
        writer.execute("PRAGMA busy_timeout=0")  # fail at once instead of after 5 s
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"):
            async with store.database.transaction(write=True) as conn:
                await conn.execute(text("SELECT 1"))
        other.execute("ROLLBACK")
        async with store.database.transaction(write=True) as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        other.close()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_connection_the_server_closed_is_never_handed_out(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy connection is not pinged; one the driver knows closed is replaced anyway."""
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_SECONDS", 1e9)
    org = await _org_with_flow(store, "f")
    async with store.tenant(org, SYSTEM) as uow:
        pid = (await uow.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        driver = uow._conn._driver  # type: ignore[union-attr]
    await _pg_admin(f"SELECT pg_terminate_backend({int(pid)})")
    deadline = asyncio.get_running_loop().time() + 10
    while not driver.is_closed():  # asyncpg reads the server's goodbye on its own
        assert asyncio.get_running_loop().time() < deadline, "asyncpg never saw the close"
        await asyncio.sleep(0.01)
    for _ in range(3):
        async with store.tenant(org, SYSTEM) as uow:
            assert [r.name for r in (await uow.execute(FLOW_NAMES)).all()] == ["f"]
