"""Small helpers for API tests: accounts, orgs, auth headers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from minibase.domain.principal import SYSTEM
from minibase.ids import new_id, now_ms
from minibase.store.tables import organizations
from minibase.store.unit_of_work import Store

PASSWORD = "correct horse battery staple"


@dataclass
class User:
    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def signup(client: httpx.AsyncClient, email: str | None = None) -> User:
    email = email or f"user-{secrets.token_hex(4)}@example.com"
    response = await client.post(
        "/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": "Test"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return User(id=body["user"]["id"], email=email, token=body["token"])


async def create_org(client: httpx.AsyncClient, user: User, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/orgs", json={"name": "Acme", **fields}, headers=user.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def insert_org(store: Store) -> str:
    """An organization row written straight through the store (no API, no members)."""
    org_id = new_id("org")
    async with store.tenant(org_id, SYSTEM, write=True) as uow:
        now = now_ms()
        await uow.execute(
            uow.insert(
                organizations,
                name=org_id,
                settings={},
                plan="free",
                nodes_used=0,
                flows_created=0,
                storage_used=0,
                created_at=now,
                updated_at=now,
            )
        )
    return org_id
