"""Issue 12, item 10: one person, one account; optional email verification at signup."""

from __future__ import annotations

import httpx

from tests.helpers import PASSWORD, bearer, create_org, signup


async def _signup(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})


async def test_emails_are_normalized_and_invisible_characters_refused(
    client: httpx.AsyncClient,
) -> None:
    composed = await _signup(client, "Caf\u00e9@Example.com")
    assert composed.status_code == 201, composed.text
    assert composed.json()["user"]["email"] == "caf\u00e9@example.com"
    # The same address decomposed, in full-width letters, or in capitals: the same account.
    for same in (
        "cafe\u0301@example.com",
        "\uff23\uff41\uff46\u00e9@example.com",
        "CAFÉ@EXAMPLE.COM",
    ):
        response = await _signup(client, same)
        assert response.status_code == 409, (same, response.text)
        login = await client.post("/v1/auth/login", json={"email": same, "password": PASSWORD})
        assert login.status_code == 200, (same, login.text)
        assert login.json()["user"]["id"] == composed.json()["user"]["id"]
    full_width_at = await _signup(client, "fw\uff20example.com")
    assert full_width_at.status_code == 201
    assert full_width_at.json()["user"]["email"] == "fw@example.com"
    for hidden in (
        "zero\u200bwidth@example.com",
        "\u202eevil@example.com",
        "soft\u00adhyphen@example.com",
        "joiner\u200d@example.com",
        "bom\ufeff@example.com",
    ):
        response = await _signup(client, hidden)
        assert response.status_code == 422, (hidden, response.text)
        assert response.json()["error"]["details"]["fields"][0]["field"] == "email"
    # Invitations match the normal form too.
    admin = await signup(client)
    org = await create_org(client, admin)
    invite = await client.post(
        f"/v1/orgs/{org['id']}/invitations",
        json={"email": "CAFE\u0301@example.com", "role": "viewer"},
        headers=admin.headers,
    )
    assert invite.status_code == 201 and invite.json()["email"] == "caf\u00e9@example.com"
    token = composed.json()["token"]
    accepted = await client.post(
        "/v1/invitations/accept", json={"token": invite.json()["token"]}, headers=bearer(token)
    )
    assert accepted.status_code == 200, accepted.text
    hidden_invite = await client.post(
        f"/v1/orgs/{org['id']}/invitations",
        json={"email": "x\u200b@example.com", "role": "viewer"},
        headers=admin.headers,
    )
    assert hidden_invite.status_code == 422
