"""Issue 12, item 1: no secret reaches a log line, at any level, on either database.

A real ``minibase serve`` process at log level ``debug`` is driven through everything
that handles a secret (signup, login, API keys, socket tickets, sockets opened with every
kind of credential, bad credentials, a database error); then every line it wrote is
scanned for every secret it was given or made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import insert

from minibase.auth.passwords import hash_password
from minibase.config import Settings
from minibase.domain.principal import SYSTEM
from minibase.ids import new_id, now_ms
from minibase.log_redaction import RedactSecrets, install_redaction, redact
from minibase.store.database import Database
from minibase.store.tables import users
from minibase.store.unit_of_work import Store
from tests.helpers import PASSWORD
from tests.process import ServerProcess

pytestmark = pytest.mark.slow


async def _open_socket(url: str) -> None:
    """Open a socket and let the server answer it (a first frame or a close)."""
    async with websockets.connect(url, open_timeout=5) as ws:
        with contextlib.suppress(TimeoutError, websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 1)


async def _drive(base: str, secrets: list[str], delivered: list[str]) -> None:
    ws_base = base.replace("http://", "ws://")
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        email = "logs@example.com"
        signup = await http.post(
            "/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": "L"}
        )
        assert signup.status_code == 201, signup.text
        session = signup.json()["token"]
        login = await http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        session2 = login.json()["token"]
        await http.post("/v1/auth/login", json={"email": email, "password": "wrong " + PASSWORD})
        auth = {"Authorization": f"Bearer {session}"}
        org = (await http.post("/v1/orgs", json={"name": "Logs"}, headers=auth)).json()
        key = (
            await http.post(
                f"/v1/orgs/{org['id']}/api-keys",
                json={"name": "k", "role": "editor"},
                headers=auth,
            )
        ).json()["key"]
        flow = (
            await http.post(f"/v1/orgs/{org['id']}/flows", json={"name": "f"}, headers=auth)
        ).json()
        secrets += [PASSWORD, session, session2, key]
        paths = ["/v1/sync", f"/v1/collab/{org['id']}/{flow['id']}"]
        for path in paths:
            for token in (session, session2, key, "mb_sess_" + "x" * 52):
                await _open_socket(f"{ws_base}{path}?token={token}")
            for token in (session, key):
                ticket = (
                    await http.post(
                        "/v1/socket-tickets", headers={"Authorization": f"Bearer {token}"}
                    )
                ).json()["ticket"]
                secrets.append(ticket)
                await _open_socket(f"{ws_base}{path}?ticket={ticket}")
                await _open_socket(f"{ws_base}{path}?ticket={ticket}")  # used: refused
        # Invitations: the token is shown once in the answer, sent in a body to accept;
        # with no SMTP the development sender logs the link (the one documented place).
        invitee_email = "invitee-logs@example.com"
        invitation = (
            await http.post(
                f"/v1/orgs/{org['id']}/invitations",
                json={"email": invitee_email, "role": "viewer"},
                headers=auth,
            )
        ).json()["token"]
        delivered.append(invitation)
        invitee = await http.post(
            "/v1/auth/signup", json={"email": invitee_email, "password": PASSWORD + " 2"}
        )
        invitee_token = invitee.json()["token"]
        secrets += [PASSWORD + " 2", invitee_token]
        accepted = await http.post(
            "/v1/invitations/accept",
            json={"token": invitation},
            headers={"Authorization": f"Bearer {invitee_token}"},
        )
        assert accepted.status_code == 200, accepted.text
        await http.post("/v1/invitations/accept", json={"token": invitation}, headers=auth)
        # Racing signups of one address: the losers meet the unique constraint.
        racing = "race-logs@example.com"
        await asyncio.gather(
            *(
                http.post("/v1/auth/signup", json={"email": racing, "password": PASSWORD + " 3"})
                for _ in range(6)
            )
        )
        secrets.append(PASSWORD + " 3")
        # Credentials in places they do not belong: a query string, a bad header.
        await http.get(f"/v1/me?token={session}", headers=auth)
        await http.get("/v1/me", headers={"Authorization": f"Bearer {session}x"})
        await http.post("/v1/auth/signup", json={"email": email, "password": PASSWORD + " again"})
        await http.post("/v1/auth/logout", headers=auth)
        # What used to reach the database and fail there, with its parameters.
        # (The input guard's own tests require a 422; here only the log matters.)
        with contextlib.suppress(httpx.TransportError):
            await http.post(
                "/v1/auth/signup", json={"email": "nul\u0000@example.com", "password": PASSWORD}
            )


def test_no_secret_in_any_log_line(settings: Settings, tmp_path: Path) -> None:
    env = {"MINIBASE_LOG_LEVEL": "debug"}
    if settings.is_postgres:
        env["MINIBASE_DATABASE_URL"] = settings.database_url
    server = ServerProcess(settings.data_dir, env=env)
    secrets: list[str] = []
    delivered: list[str] = []
    try:
        server.wait_ready()
        asyncio.run(_drive(server.base_url, secrets, delivered))
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert '"path":"/v1/sync"' in log  # the sockets were logged, without their query
    assert len(log.splitlines()) > 50
    assert delivered and any(delivered[0] in line for line in log.splitlines())
    for line in log.splitlines():
        for secret in secrets:
            assert secret not in line, f"a secret in: {line[:300]}"
        if '"logger":"minibase.delivery"' not in line.replace(" ", ""):
            # Invitation links are logged by the development sender alone (no SMTP).
            for secret in delivered:
                assert secret not in line, f"an invitation token in: {line[:300]}"
        assert "$argon2" not in line, line[:300]
        assert "token=mb_" not in line and "ticket=mb_" not in line, line[:300]


async def test_database_errors_carry_no_row_values(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A constraint violation names neither the email nor the password hash, in its
    message or in a logged traceback (``hide_parameters`` and the redaction filter)."""
    install_redaction()
    database = Database(settings)
    store = Store(database)
    password_hash = await hash_password("a secret password")
    email = "dupe-secret@example.com"
    row: dict[str, Any] = {
        "email": email,
        "name": "d",
        "password_hash": password_hash,
        "created_at": now_ms(),
        "password_changed_at": now_ms(),
    }
    try:
        async with store.global_(SYSTEM, write=True) as uow:
            await uow.execute(insert(users).values(id=new_id("usr"), **row))
        with caplog.at_level(logging.DEBUG):
            try:
                async with store.global_(SYSTEM, write=True) as uow:
                    await uow.execute(insert(users).values(id=new_id("usr"), **row))
            except Exception as exc:  # the driver's own class differs per database
                assert password_hash not in str(exc)
                logging.getLogger("minibase.errors").error("unhandled error", exc_info=exc)
            else:
                raise AssertionError("the duplicate insert should have failed")
    finally:
        await database.close()
    assert "unhandled error" in caplog.text
    assert password_hash not in caplog.text
    assert email not in caplog.text
    assert "$argon2" not in caplog.text


def test_redaction_patterns() -> None:
    samples = {
        '127.0.0.1:5 - "WebSocket /v1/sync?token=mb_sess_abc" [accepted]': "mb_sess_abc",
        "GET /x?ticket=abcdef&limit=5": "abcdef",
        "Authorization: Bearer mb_key_secret": "mb_key_secret",
        "hash $argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA, next": "c2FsdA",
        "DETAIL:  Key (email)=(me@example.com) already exists.": "me@example.com",
        "DETAIL:  Failing row contains (usr_1, me@example.com, $x).": "me@example.com",
        "secret whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2Vj sent": "c2VjcmV0c2VjcmV0c2VjcmV0c2Vj",
        "webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=": "K5oZfzN95Z9U",
    }
    for text, secret in samples.items():
        assert secret not in redact(text), text
    record = logging.makeLogRecord(
        {"name": "uvicorn.error", "msg": '%s - "WebSocket %s" [accepted]', "args": ("a", "b")}
    )
    assert RedactSecrets().filter(record) is False
