"""Brute-force limits on login and signup (in the database) and the per-token limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from minibase.app import create_app
from minibase.config import Settings
from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.http.throttle import TokenBuckets
from minibase.ids import now_ms
from minibase.services.login_limits import account_bucket
from minibase.store.tables import rate_limit_hits
from tests.helpers import PASSWORD, signup
from tests.test_http_basics import assert_error


@pytest.fixture
async def limited(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    tight = settings.model_copy(
        update={
            "login_max_attempts": 3,
            "login_max_attempts_per_address": 7,
            "rate_limit_per_second": 5,
        }
    )
    app = create_app(tight, run_migrations=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client


async def _unblock(app: FastAPI) -> None:
    """Move every block and window into the past (instead of sleeping)."""
    ctx: AppContext = app.state.ctx
    past = now_ms() - 3_600_000
    async with ctx.store.global_(SYSTEM, write=True) as uow:
        await uow.execute(update(rate_limit_hits).values(blocked_until=past, window_start=past))


async def test_login_blocks_per_account_then_expires(
    limited: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = limited
    user = await signup(client)
    wrong = {"email": user.email, "password": "wrong password"}
    for _ in range(3):
        assert_error(await client.post("/v1/auth/login", json=wrong), 401, "unauthenticated")
    blocked = await client.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert_error(blocked, 429, "rate_limited")
    assert 1 <= int(blocked.headers["retry-after"]) <= 300
    # Unknown accounts are limited the same way (no enumeration through the limiter).
    ghost = {"email": "ghost@example.com", "password": "wrong password"}
    for _ in range(3):
        assert_error(await client.post("/v1/auth/login", json=ghost), 401, "unauthenticated")
    assert_error(await client.post("/v1/auth/login", json=ghost), 429, "rate_limited")

    # The block ends with its window: never a permanent lockout.
    await _unblock(app)
    ok = await client.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert ok.status_code == 200
    # A success clears the account's failures.
    ctx: AppContext = app.state.ctx
    async with ctx.store.global_(SYSTEM) as uow:
        buckets = (await uow.execute(select(rate_limit_hits.c.bucket))).scalars().all()
    assert account_bucket("login", user.email, 3).name not in buckets
    assert account_bucket("login", "ghost@example.com", 3).name in buckets
    for _ in range(2):
        assert_error(await client.post("/v1/auth/login", json=wrong), 401, "unauthenticated")
    assert (
        await client.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    ).status_code == 200


async def test_login_blocks_per_address(limited: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = limited
    for i in range(7):
        assert_error(
            await client.post(
                "/v1/auth/login",
                json={"email": f"spray{i}@example.com", "password": "wrong password"},
            ),
            401,
            "unauthenticated",
        )
    assert_error(
        await client.post(
            "/v1/auth/login", json={"email": "spray9@example.com", "password": "wrong password"}
        ),
        429,
        "rate_limited",
    )
    await _unblock(app)
    assert_error(
        await client.post(
            "/v1/auth/login", json={"email": "spray9@example.com", "password": "wrong password"}
        ),
        401,
        "unauthenticated",
    )


async def test_failed_signups_are_limited(limited: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = limited
    user = await signup(client)
    for _ in range(3):
        assert_error(
            await client.post("/v1/auth/signup", json={"email": user.email, "password": PASSWORD}),
            409,
            "conflict",
        )
    assert_error(
        await client.post("/v1/auth/signup", json={"email": user.email, "password": PASSWORD}),
        429,
        "rate_limited",
    )


async def test_per_token_limit(limited: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = limited
    user = await signup(client)
    statuses = [(await client.get("/v1/me", headers=user.headers)).status_code for _ in range(30)]
    assert 429 in statuses and statuses[0] == 200
    limited_response = await client.get("/v1/me", headers=user.headers)
    assert_error(limited_response, 429, "rate_limited")
    assert int(limited_response.headers["retry-after"]) >= 1
    # Another token is unaffected.
    other = await signup(client)
    assert (await client.get("/v1/me", headers=other.headers)).status_code == 200


def test_token_bucket_refills() -> None:
    buckets = TokenBuckets(rate=2.0, burst=2.0)
    assert buckets.allow("a", now=0.0) == 0.0
    assert buckets.allow("a", now=0.0) == 0.0
    assert buckets.allow("a", now=0.0) == pytest.approx(0.5)
    assert buckets.allow("a", now=0.5) == 0.0
    assert buckets.allow("b", now=0.5) == 0.0
