"""``Store.global_`` refuses tenant tables; it reads only a user's own memberships."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, insert, select, update

from minibase.config import Settings
from minibase.domain.principal import SYSTEM, Principal
from minibase.store.database import Database
from minibase.store.tables import flows, memberships, organizations, sessions, users
from minibase.store.unit_of_work import Store, TenantScopeError
from tests.helpers import insert_org

USER = Principal(kind="user", id="usr_x", credential_id="ses_x", user_id="usr_x")


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    database = Database(settings)
    yield Store(database)
    await database.close()


async def test_a_global_unit_of_work_refuses_tenant_tables(store: Store) -> None:
    await insert_org(store)
    refused = [
        select(flows.c.id),
        select(users.c.id).join(memberships, memberships.c.user_id == users.c.id),
        update(flows).values(name="x"),
        delete(flows),
        insert(memberships).values(user_id="usr_x", role="admin", created_at=0),
        delete(sessions).where(sessions.c.user_id.in_(select(memberships.c.user_id))),
    ]
    for principal in (SYSTEM, USER):
        for statement in refused:
            if principal is USER and statement is refused[1]:
                continue  # a user may read memberships (their own: see the next test)
            async with store.global_(principal) as uow:
                with pytest.raises(TenantScopeError):
                    await uow.execute(statement)


async def test_a_user_reads_memberships_and_global_tables(store: Store) -> None:
    async with store.global_(USER) as uow:
        rows = await uow.execute(
            select(organizations.c.id)
            .join(memberships, memberships.c.organization_id == organizations.c.id)
            .where(memberships.c.user_id == USER.user_id)
        )
        assert rows.all() == []
        assert (await uow.execute(select(users.c.id).where(users.c.id == "nobody"))).all() == []
    async with store.global_(SYSTEM) as uow:
        with pytest.raises(TenantScopeError):
            await uow.execute(select(memberships.c.role))
