"""Issue 12, item 3: every part of the Yjs document is under the rules REST applies.

An editor could put an 8 MB string in ``meta.name`` or 12 MB under another ``meta`` key
(stored, sent to every joiner, not counted in storage), and once the flow was over the
size limit the server stopped materializing, so the document and the REST flow parted
ways. Now: ``meta`` holds a valid ``name`` only, other root types are emptied, entries are
checked as REST checks them, the update log counts in storage, and whatever REST still
refuses is taken back with a notice to its author.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pycrdt import Map, Text
from sqlalchemy import func, select

from minibase.config import Settings
from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.store.tables import flow_doc_snapshots, flow_doc_updates, flows, organizations
from tests.collab.yclient import YClient
from tests.flows_helpers import Org, new_org, node

BIG = 1024 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Collaborative edits reach the REST flow after 50 ms, rooms unload after 50 ms."""
    return settings.model_copy(
        update={"collab_version_seconds": 0.05, "collab_unload_seconds": 0.05}
    )


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not reached in time: {check.__name__}"
        await asyncio.sleep(0.02)


async def rest_flow(client: httpx.AsyncClient, org: Org, flow_id: str) -> dict[str, Any]:
    response = await client.get(f"{org.flows_url}/{flow_id}", headers=org.admin.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def url_of(live_url: str, org: Org, flow: dict[str, Any]) -> str:
    return f"ws://{live_url}/v1/collab/{org.id}/{flow['id']}?token={org.admin.token}"


def removed(client: YClient) -> list[dict[str, str]]:
    return [r for n in client.notifications if n["type"] == "rule_violation" for r in n["removed"]]


async def test_meta_holds_a_valid_name_only_and_live_edits_still_reach_rest(
    client: httpx.AsyncClient, live_url: str
) -> None:
    org = await new_org(client)
    flow = await org.create_flow("Plan", [node("a")])
    url = url_of(live_url, org, flow)
    async with YClient(url) as author, YClient(url) as watcher:
        author.flow.meta["name"] = "x" * BIG
        await author.wait_for(
            lambda: {"kind": "meta", "id": "name", "reason": "malformed"} in removed(author)
        )
        await author.wait_for(lambda: author.flow.meta.get("name") == "Plan")
        author.flow.meta["secret"] = "y" * BIG
        await author.wait_for(lambda: "secret" not in author.flow.meta)
        assert {"kind": "meta", "id": "secret", "reason": "unknown_key"} in removed(author)
        author.flow.meta["name"] = "   "
        await author.wait_for(lambda: author.flow.meta.get("name") == "Plan")
        author.flow.meta["name"] = "Renamed"
        await watcher.wait_for(lambda: watcher.flow.meta.get("name") == "Renamed")
        assert "secret" not in watcher.flow.meta
        # Later live edits reach REST: the flow was never over a limit.
        author.nodes["b"] = Map({"id": "b", "type": "default", "position": {"x": 1, "y": 1}})

        async def followed() -> bool:
            rest = await rest_flow(client, org, flow["id"])
            return rest["name"] == "Renamed" and [n["id"] for n in rest["nodes"]] == ["a", "b"]

        await eventually(followed)
    # A joiner gets none of it.
    async with YClient(url) as joiner:
        assert joiner.flow.meta.get("name") == "Renamed"
        assert list(joiner.flow.meta.keys()) == ["name"]
    assert (await client.get("/healthz")).status_code == 200


async def test_other_root_types_are_emptied(client: httpx.AsyncClient, live_url: str) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    url = url_of(live_url, org, flow)
    async with YClient(url) as author:
        author.doc.get("smuggled", type=Text).insert(0, "z" * BIG)
        await author.wait_for(lambda: str(author.doc.get("smuggled", type=Text)) == "")
        assert {"kind": "root", "id": "smuggled", "reason": "unknown_root"} in removed(author)
    async with YClient(url) as joiner:
        assert str(joiner.doc.get("smuggled", type=Text)) == ""
        assert len(joiner.doc.get_update()) < 10_000


async def test_entries_are_checked_as_rest_checks_them(
    client: httpx.AsyncClient, live_url: str
) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    url = url_of(live_url, org, flow)
    deep: Any = "leaf"
    for _ in range(300):  # deeper than JSON serialization goes (REST: 422)
        deep = {"d": deep}
    bad = {
        "deep": {"id": "deep", "type": "t", "position": {"x": 0, "y": 0}, "data": deep},
        "nodata": {"id": "nodata", "type": "t", "position": {"x": 0, "y": 0}, "data": [1]},
        "inf": {"id": "inf", "type": "t", "position": {"x": float("inf"), "y": 0}},
    }
    async with YClient(url) as author:
        for key, value in bad.items():
            author.nodes[key] = value
        author.nodes["good"] = Map({"id": "good", "type": "t", "position": {"x": 0, "y": 0}})
        await author.wait_for(lambda: {r["id"] for r in removed(author)} >= set(bad))
        assert all(r["reason"] == "malformed" for r in removed(author))

        async def good_in_rest() -> bool:
            nodes = (await rest_flow(client, org, flow["id"]))["nodes"]
            return [n["id"] for n in nodes] == ["a", "good"]

        await eventually(good_in_rest)
        assert set(author.nodes.keys()) == {"a", "good"}
    assert (await client.get("/healthz")).status_code == 200


async def _storage(app: FastAPI, org_id: str) -> tuple[int, int, int]:
    """(org storage used, Σ flows' size and history, log and snapshot bytes), read by one
    statement (one snapshot on PostgreSQL too)."""
    ctx: AppContext = app.state.ctx

    def total(column: Any, table: Any) -> Any:
        return (
            select(func.coalesce(func.sum(column), 0))
            .where(table.c.organization_id == org_id)
            .scalar_subquery()
        )

    statement = select(
        organizations.c.storage_used,
        total(flows.c.size_bytes + flows.c.history_bytes, flows),
        total(func.length(flow_doc_updates.c.update), flow_doc_updates),
        total(flow_doc_snapshots.c.size_bytes, flow_doc_snapshots),
    ).where(organizations.c.id == org_id)
    async with ctx.store.tenant(org_id, SYSTEM) as uow:
        used, rows, log, snapshots = (await uow.execute(statement)).one()
    return int(used), int(rows), int(log) + int(snapshots)


async def test_update_log_counts_in_storage(
    app: FastAPI, client: httpx.AsyncClient, live_url: str
) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    before, _, _ = await _storage(app, org.id)
    async with YClient(url_of(live_url, org, flow)) as author:
        for i in range(20):
            await author.edit(
                lambda i=i: author.nodes["a"].__setitem__("position", {"x": i, "y": i})
            )
    used, rows, log = await _storage(app, org.id)
    assert log > 0 and used == rows and used >= before + log
    # Unloaded and compacted: still one account, and usage says the same.
    ctx: AppContext = app.state.ctx
    assert ctx.collab is not None

    async def unloaded() -> bool:
        return ctx.collab is not None and ctx.collab.loaded(org.id, flow["id"]) is None

    await eventually(unloaded)
    used, rows, log = await _storage(app, org.id)
    assert used == rows and log > 0
    usage = (await client.get(f"/v1/orgs/{org.id}/usage", headers=org.admin.headers)).json()
    assert usage["storage"]["used"] == used


async def test_what_rest_refuses_is_taken_back_with_a_notice(
    client: httpx.AsyncClient, live_url: str
) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    async with YClient(url_of(live_url, org, flow)) as author:
        # The room read the storage left at connect; it shrinks meanwhile.
        used = (await client.get(f"/v1/orgs/{org.id}/usage", headers=org.admin.headers)).json()
        await org.patch_settings(storageQuota=used["storage"]["used"] + 2000)
        author.nodes["big"] = Map(
            {"id": "big", "type": "t", "position": {"x": 0, "y": 0}, "data": Map({"t": "q" * 3000})}
        )
        await author.wait_for(
            lambda: any(n["type"] == "edit_refused" for n in author.notifications)
        )
        await author.wait_for(lambda: "big" not in author.nodes)
        refusal = next(n for n in author.notifications if n["type"] == "edit_refused")
        assert refusal["code"] == "quota_exceeded"
        rest = await rest_flow(client, org, flow["id"])
        assert [n["id"] for n in rest["nodes"]] == ["a"]
        assert list(author.nodes.keys()) == ["a"]
    assert (await client.get("/healthz")).status_code == 200


async def test_nul_characters_in_collab_edits_are_taken_back(
    client: httpx.AsyncClient, live_url: str
) -> None:
    """Issue 12, item 4 over collab: what REST refuses at its door (a NUL character in an
    id, a type, a value or a key; ``meta.name`` with one) is taken back here, so no such
    string ever reaches the database (PostgreSQL refuses them) and REST and the document
    stay one flow."""
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    url = url_of(live_url, org, flow)
    nul = "\u0000"
    bad = {
        f"id{nul}": {"id": f"id{nul}", "type": "t", "position": {"x": 0, "y": 0}},
        "type": {"id": "type", "type": f"t{nul}", "position": {"x": 0, "y": 0}},
        "value": {"id": "value", "type": "t", "position": {"x": 0, "y": 0}, "data": {"v": nul}},
        "key": {"id": "key", "type": "t", "position": {"x": 0, "y": 0}, "data": {nul: 1}},
    }
    async with YClient(url) as author:
        for key, value in bad.items():
            author.nodes[key] = value
        author.nodes["good"] = Map({"id": "good", "type": "t", "position": {"x": 0, "y": 0}})
        author.flow.meta["name"] = f"bad{nul}name"
        await author.wait_for(lambda: {r["id"] for r in removed(author)} >= set(bad))

        async def only_good_in_rest() -> bool:
            got = await rest_flow(client, org, flow["id"])
            return [n["id"] for n in got["nodes"]] == ["a", "good"] and got["name"] == "F"

        await eventually(only_good_in_rest)
        assert set(author.nodes.keys()) == {"a", "good"}
    # The room still materializes edits: REST and the document are one flow.
    async with YClient(url) as editor:
        editor.nodes["later"] = Map({"id": "later", "type": "t", "position": {"x": 1, "y": 1}})

        async def later_in_rest() -> bool:
            got = await rest_flow(client, org, flow["id"])
            return "later" in [n["id"] for n in got["nodes"]]

        await eventually(later_in_rest)
    assert (await client.get("/healthz")).status_code == 200
