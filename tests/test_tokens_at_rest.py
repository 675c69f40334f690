"""No plaintext token is ever at rest: every table (and SQLite's raw files) is searched."""

from __future__ import annotations

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from minibase.config import Settings
from minibase.context import AppContext
from minibase.ids import hash_token
from tests.helpers import PASSWORD, User, create_org, signup
from tests.services import PG_HOST, PG_PORT, PG_USER


async def _issue_tokens(client: httpx.AsyncClient) -> list[str]:
    admin = await signup(client)
    login = await client.post(
        "/v1/auth/login",
        json={"email": admin.email, "password": PASSWORD},
        headers={"Idempotency-Key": "login-1"},
    )
    org = await create_org(client, admin)
    bob = await signup(client)
    inv = (
        await client.post(
            f"/v1/orgs/{org['id']}/invitations",
            json={"email": bob.email, "role": "editor"},
            headers={**admin.headers, "Idempotency-Key": "inv-1"},
        )
    ).json()
    pending = (
        await client.post(
            f"/v1/orgs/{org['id']}/invitations",
            json={"email": "later@example.com", "role": "viewer"},
            headers=admin.headers,
        )
    ).json()
    key = (
        await client.post(
            f"/v1/orgs/{org['id']}/api-keys",
            json={"name": "ci", "role": "editor"},
            headers={**admin.headers, "Idempotency-Key": "key-1"},
        )
    ).json()
    accepted = await client.post(
        "/v1/invitations/accept",
        json={"token": inv["token"]},
        headers={**bob.headers, "Idempotency-Key": "accept-1"},
    )
    assert accepted.status_code == 200
    used = await client.get(
        f"/v1/orgs/{org['id']}", headers=User(id="", email="", token=key["key"]).headers
    )
    assert used.status_code == 200
    tokens = [
        admin.token,
        login.json()["token"],
        bob.token,
        inv["token"],
        pending["token"],
        key["key"],
    ]
    assert all(len(t) > 40 for t in tokens)
    return tokens


async def _postgres_dump(database_url: str) -> str:
    name = make_url(database_url).database
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=name)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        parts: list[str] = []
        for table in tables:
            for row in await conn.fetch(f'SELECT * FROM "{table}"'):
                for value in row.values():
                    parts.append(
                        value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    )
        return "\n".join(parts)
    finally:
        await conn.close()


async def test_no_plaintext_token_in_any_table(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    tokens = await _issue_tokens(client)
    if settings.is_sqlite:
        ctx: AppContext = app.state.ctx
        await ctx.database.close()  # checkpoint nothing away: read the files as they are
        db = settings.data_dir / "minibase.db"
        raw = b"".join(p.read_bytes() for p in (db, db.with_name("minibase.db-wal")) if p.exists())
        assert hash_token(tokens[0]).encode() in raw  # the search does see stored data
        for token in tokens:
            assert token.encode() not in raw
            # Not even a recognisable fragment of one.
            assert token[len("mb_xxx_") + 4 :][:24].encode() not in raw
    else:
        dump = await _postgres_dump(settings.database_url)
        assert hash_token(tokens[0]) in dump  # the search does see stored data
        for token in tokens:
            assert token not in dump
            assert token[-24:] not in dump
