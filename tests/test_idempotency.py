"""``Idempotency-Key``: replay, refusal on a different body, secrets never stored."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.store.tables import idempotency_records
from tests.helpers import PASSWORD, User, create_org, signup
from tests.test_http_basics import assert_error


async def test_replay_changes_nothing(client: httpx.AsyncClient) -> None:
    admin = await signup(client)
    headers = {**admin.headers, "Idempotency-Key": "create-org-1"}
    first = await client.post("/v1/orgs", json={"name": "Once"}, headers=headers)
    again = await client.post("/v1/orgs", json={"name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == "application/json"
    orgs = (await client.get("/v1/orgs", headers=admin.headers)).json()["items"]
    assert [o["name"] for o in orgs] == ["Once"]

    assert_error(
        await client.post("/v1/orgs", json={"name": "Other"}, headers=headers),
        422,
        "validation_error",
    )
    # The key belongs to the token: another user's identical request runs.
    bob = await signup(client)
    theirs = await client.post(
        "/v1/orgs",
        json={"name": "Once"},
        headers={**bob.headers, "Idempotency-Key": "create-org-1"},
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]

    # 4xx answers are replayed too; DELETE works the same way.
    org_id = first.json()["id"]
    delete_headers = {**admin.headers, "Idempotency-Key": "delete-1"}
    assert (await client.delete(f"/v1/orgs/{org_id}", headers=delete_headers)).status_code == 204
    replayed = await client.delete(f"/v1/orgs/{org_id}", headers=delete_headers)
    assert replayed.status_code == 204 and replayed.headers["idempotent-replayed"] == "true"
    assert_error(await client.delete(f"/v1/orgs/{org_id}", headers=admin.headers), 404, "not_found")


async def test_answers_with_secrets_replay_but_are_stored_sealed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    key_headers = {"Idempotency-Key": "signup-1"}
    body = {"email": "idem@example.com", "password": PASSWORD}
    first = await client.post("/v1/auth/signup", json=body, headers=key_headers)
    assert first.status_code == 201
    retry = await client.post("/v1/auth/signup", json=body, headers=key_headers)
    assert retry.status_code == 201 and retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    # Another password with the same key is another request, not a way to read the first.
    assert_error(
        await client.post(
            "/v1/auth/signup", headers=key_headers, json={**body, "password": "another password"}
        ),
        422,
        "validation_error",
    )

    user = User(id=first.json()["user"]["id"], email=body["email"], token=first.json()["token"])
    org = await create_org(client, user)
    key_body = {"name": "k", "role": "viewer"}
    key = await client.post(
        f"/v1/orgs/{org['id']}/api-keys",
        json=key_body,
        headers={**user.headers, "Idempotency-Key": "key-1"},
    )
    assert key.status_code == 201
    again = await client.post(
        f"/v1/orgs/{org['id']}/api-keys",
        json=key_body,
        headers={**user.headers, "Idempotency-Key": "key-1"},
    )
    assert again.status_code == 201 and again.json() == key.json()
    listed = (await client.get(f"/v1/orgs/{org['id']}/api-keys", headers=user.headers)).json()
    assert len(listed["items"]) == 1

    ctx: AppContext = app.state.ctx
    async with ctx.store.global_(SYSTEM) as uow:
        rows = (await uow.execute(select(idempotency_records))).all()
    dumped = repr(rows)
    assert len(rows) == 2
    for secret in (
        first.json()["token"],
        key.json()["key"],
        "signup-1",
        "key-1",
        "idem@example.com",
        org["id"],
    ):
        assert secret not in dumped


async def test_concurrent_duplicate_is_a_conflict(client: httpx.AsyncClient) -> None:
    admin = await signup(client)
    headers = {**admin.headers, "Idempotency-Key": "race"}
    responses = await asyncio.gather(
        *[client.post("/v1/orgs", json={"name": "Race"}, headers=headers) for _ in range(4)]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    orgs = (await client.get("/v1/orgs", headers=admin.headers)).json()["items"]
    assert len(orgs) == 1


async def test_no_replay_for_a_revoked_token(client: httpx.AsyncClient) -> None:
    admin = await signup(client)
    headers = {**admin.headers, "Idempotency-Key": "k"}
    assert (await client.post("/v1/orgs", json={"name": "x"}, headers=headers)).status_code == 201
    assert (await client.post("/v1/auth/logout", headers=admin.headers)).status_code == 204
    assert_error(
        await client.post("/v1/orgs", json={"name": "x"}, headers=headers), 401, "unauthenticated"
    )


async def test_bad_key_is_rejected(client: httpx.AsyncClient) -> None:
    admin = await signup(client)
    assert_error(
        await client.post(
            "/v1/orgs", json={"name": "x"}, headers={**admin.headers, "Idempotency-Key": "a" * 300}
        ),
        422,
        "validation_error",
    )
