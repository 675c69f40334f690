"""Small helpers for API tests: accounts, orgs, auth headers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

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
