"""Issue 12, item 10: with MINIBASE_REQUIRE_EMAIL_VERIFICATION, an account signs in only
after its owner followed the link sent through the invitation sender."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from minibase.config import Settings
from tests.helpers import PASSWORD


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"require_email_verification": True})


def _link_tokens(caplog: pytest.LogCaptureFixture) -> list[str]:
    return re.findall(r"/verify-email#(mb_ver_[a-z0-9]+)", caplog.text)


async def test_signup_waits_for_the_link(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    credentials = {"email": "new@example.com", "password": PASSWORD}
    with caplog.at_level(logging.INFO, logger="minibase.delivery"):
        signup = await client.post("/v1/auth/signup", json=credentials)
    assert signup.status_code == 201, signup.text
    body = signup.json()
    assert body["token"] is None and body["user"]["emailVerified"] is False
    assert body["verificationSent"] is True
    [token] = _link_tokens(caplog)

    login = await client.post("/v1/auth/login", json=credentials)
    assert login.status_code == 403 and login.json()["error"]["code"] == "email_not_verified"

    # A new link on request (always 202, whether or not the address has an account).
    with caplog.at_level(logging.INFO, logger="minibase.delivery"):
        again = await client.post("/v1/auth/resend-verification", json={"email": "NEW@example.com"})
        unknown = await client.post(
            "/v1/auth/resend-verification", json={"email": "nobody@example.com"}
        )
    assert again.status_code == 202 and unknown.status_code == 202
    tokens = _link_tokens(caplog)
    assert len(tokens) == 2 and tokens[0] == token

    bad = await client.post("/v1/auth/verify-email", json={"token": "mb_ver_nope"})
    assert bad.status_code == 404
    verified = await client.post("/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json()["user"]["emailVerified"] is True
    session = verified.json()["token"]
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {session}"})
    assert me.status_code == 200 and me.json()["user"]["emailVerified"] is True
    # A link works once; the account now signs in.
    used = await client.post("/v1/auth/verify-email", json={"token": token})
    assert used.status_code == 404
    assert (await client.post("/v1/auth/login", json=credentials)).status_code == 200
    # Nothing more is sent for a verified address.
    with caplog.at_level(logging.INFO, logger="minibase.delivery"):
        caplog.clear()
        await client.post("/v1/auth/resend-verification", json={"email": "new@example.com"})
    assert _link_tokens(caplog) == []
