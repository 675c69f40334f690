"""Group commit's fallback: a batch whose transaction fails as a whole is retried one
save per transaction, so each save lands or fails alone.

The failure is real: a trigger in the database refuses the version row of one author, so
the batch's one write statement fails, and with it the batch's whole transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from minibase.config import Settings
from minibase.domain.principal import SYSTEM, Principal
from minibase.errors import MinibaseError
from minibase.services import audit, flows
from minibase.services.audit import NO_META
from minibase.services.flow_put import SaveJob, prepare_save
from minibase.services.flow_render import FlowResult
from minibase.services.flow_saves import FlowSaves
from minibase.services.orgs import load_org
from minibase.services.usage import usage_of
from minibase.store.database import Database
from minibase.store.unit_of_work import Store
from tests.flows_helpers import node
from tests.helpers import insert_org
from tests.services import PG_HOST, PG_PORT, PG_USER

POISONED = "usr_poison"

SQLITE_TRIGGER = f"""
CREATE TRIGGER poisoned_versions BEFORE INSERT ON flow_versions
WHEN NEW.created_by = '{POISONED}'
BEGIN SELECT RAISE(ABORT, 'poisoned version row'); END
"""
POSTGRES_TRIGGER = (
    f"""
CREATE FUNCTION poisoned_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.created_by = '{POISONED}' THEN
        RAISE EXCEPTION 'poisoned version row';
    END IF;
    RETURN NEW;
END $$
""",
    """
CREATE TRIGGER poisoned_versions BEFORE INSERT ON flow_versions
FOR EACH ROW EXECUTE FUNCTION poisoned_versions()
""",
)


class RecordingSaves(FlowSaves):
    """:class:`FlowSaves` that records the size of every transaction it opens."""

    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__(store, settings)
        self.transactions: list[int] = []

    async def _transaction(
        self, key: tuple[str, str], jobs: list[SaveJob]
    ) -> list[FlowResult | MinibaseError]:
        self.transactions.append(len(jobs))
        return await super()._transaction(key, jobs)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    database = Database(settings)
    yield Store(database)
    await database.close()


async def _install_trigger(store: Store, settings: Settings) -> None:
    if store.database.is_sqlite:
        async with store.global_(SYSTEM, write=True) as uow:
            await uow.execute(text(SQLITE_TRIGGER))
        return
    # The app role may not create triggers on its tables: the owner does.
    conn = await asyncpg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        database=make_url(settings.database_url).database,
        timeout=5,
    )
    try:
        for statement in POSTGRES_TRIGGER:
            await conn.execute(statement)
    finally:
        await conn.close()


def _user(user_id: str) -> Principal:
    return Principal(kind="user", id=user_id, credential_id=f"ses_{user_id}", user_id=user_id)


async def test_a_failed_batch_is_retried_one_save_at_a_time(
    store: Store, settings: Settings
) -> None:
    org_id = await insert_org(store)
    created = await flows.create_flow(
        store, settings, org_id, SYSTEM, {"name": "F", "nodes": [node("start")]}, NO_META
    )
    flow_id = orjson.loads(created.body)["id"]
    await _install_trigger(store, settings)
    saves = RecordingSaves(store, settings)

    async def put(user_id: str, added: str) -> FlowResult:
        body = {"baseVersion": 1, "nodes": [node("start"), node(added)], "edges": []}
        job = prepare_save(
            settings, store.cache, org_id, flow_id, orjson.dumps(body), _user(user_id), NO_META
        )
        return await saves.save(org_id, flow_id, job)

    # Queued in one turn of the event loop, so the first transaction takes all three.
    first, poisoned, second = await asyncio.wait_for(
        asyncio.gather(
            put("usr_first", "a"),
            put(POISONED, "p"),
            put("usr_second", "b"),
            return_exceptions=True,
        ),
        timeout=30,
    )

    # One batch of three failed as a whole, then each save ran in its own transaction.
    assert saves.transactions == [3, 1, 1, 1]
    assert isinstance(poisoned, Exception) and "poisoned version row" in str(poisoned)
    assert isinstance(first, FlowResult) and first.version == 2
    assert isinstance(second, FlowResult) and second.version == 3
    # The second save edited version 1 too: merged onto the first, nothing lost.
    landed = orjson.loads(second.body)
    assert [n["id"] for n in landed["nodes"]] == ["start", "a", "b"]
    assert landed["conflicts"] == []

    # What is stored agrees: two new versions by their own authors, their audit rows
    # chained, the usage counters those two saves added.
    current = await flows.read_flow(store, org_id, SYSTEM, flow_id)
    assert current.version == 3 and orjson.loads(current.body)["nodes"] == landed["nodes"]
    history = await flows.list_versions(store, org_id, SYSTEM, flow_id, limit=10, cursor=None)
    assert [(v["version"], v["createdBy"]) for v in history["items"]] == [
        (3, "usr_second"),
        (2, "usr_first"),
        (1, "system"),
    ]
    async with store.tenant(org_id, SYSTEM) as uow:
        assert usage_of(await load_org(uow)).nodes == 3  # start, a, b
        assert (await audit.verify_chain(uow))["ok"] is True
        events = await audit.list_events(uow, audit.AuditFilter(), limit=10, cursor=None)
    updates = [e for e in events["items"] if e["action"] == "flow.update"]
    assert [e["actor"]["id"] for e in updates] == ["usr_second", "usr_first"]
