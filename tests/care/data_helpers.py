"""Helpers for the care-of-data tests: fill a deployment, read every row of it."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from minibase.config import Settings
from minibase.store.backup import postgres_dsn, sqlite_path
from minibase.store.data_keys import KeyRing, Sealer, sealed_columns
from minibase.store.tables import tenant_tables
from tests.flows_helpers import Org, edge, new_org, node
from tests.services import pg_admin, pg_url

SKIP_TABLES = {"alembic_version", "rate_limit_hits"}


async def fill(client: httpx.AsyncClient, flows: int = 3) -> Org:
    """An org with an admin, ``flows`` flows edited twice each, outputs and audit rows."""
    org = await new_org(client)
    for i in range(flows):
        flow = await org.create_flow(f"Flow {i}", [node("a"), node("b")], [edge("a", "b")])
        response = await client.put(
            f"{org.flows_url}/{flow['id']}",
            json={
                "name": f"Flow {i} v2",
                "nodes": [node("a"), node("b"), node("c", 10, 20)],
                "edges": [edge("a", "b"), edge("b", "c")],
                "baseVersion": flow["version"],
            },
            headers=org.admin.headers,
        )
        assert response.status_code == 200, response.text
        response = await client.post(
            f"{org.flows_url}/{flow['id']}/outputs",
            json={"nodeId": "a", "output": {"value": i, "text": "héllo"}, "computeTime": 1.5},
            headers=org.admin.headers,
        )
        assert response.status_code == 201, response.text
    return org


def _sqlite_rows(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(sqlite_path(settings))
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr)
            for n in names
            if n not in SKIP_TABLES
        }
    finally:
        conn.close()


async def _postgres_rows(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(postgres_dsn(settings.database_url))
    try:
        async with conn.transaction(readonly=True):
            await conn.execute("SET LOCAL row_security = off")
            names = [
                r[0]
                for r in await conn.fetch(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                )
            ]
            return {
                n: sorted((tuple(r) for r in await conn.fetch(f'SELECT * FROM "{n}"')), key=repr)
                for n in names
                if n not in SKIP_TABLES
            }
    finally:
        await conn.close()


async def all_rows(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but migrations' and rate limits' bookkeeping)."""
    if settings.is_sqlite:
        return _sqlite_rows(settings)
    return await _postgres_rows(settings)


async def plain_rows(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """:func:`all_rows` with every sealed value opened (encryption at rest: the bytes
    stored differ between deployments, random nonces under each org's own data key, while
    what they hold must be equal). ``org_data_keys`` is left out: it is per deployment."""
    rows = await all_rows(settings)
    keys = KeyRing(settings)
    sealers = {
        org: Sealer(org, keys.unwrap(org, bytes(wrapped), kid), sealing=False)
        for org, wrapped, kid, *_ in rows.pop("org_data_keys", [])
    }
    for table in tenant_tables():
        if not sealed_columns(table) or table.name not in rows:
            continue
        names = [c.name for c in table.c]
        opened = []
        for row in rows[table.name]:
            assert len(row) == len(names), table.name
            values = dict(zip(names, row, strict=True))
            org = values["organization_id"]
            sealer = sealers.get(org) or Sealer(org, None, sealing=False)
            opened.append(tuple(sealer.open_values(table, values).values()))
        rows[table.name] = sorted(opened, key=repr)
    return rows


def empty_target(settings: Settings, tmp_path: Path, name: str) -> Settings:
    """An empty target of the same engine as ``settings`` (a PostgreSQL database that the
    caller drops with ``PostgresTemplate.drop``)."""
    if settings.is_sqlite:
        return Settings(data_dir=tmp_path / name)
    database = f"mbt_{name}_{secrets.token_hex(4)}"
    pg_admin(f'CREATE DATABASE "{database}"')
    return Settings(data_dir=tmp_path / name, database_url=pg_url(database))
