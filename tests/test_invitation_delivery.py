"""Invitation delivery: the log sender and the SMTP sender (against a tiny local server)."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI

from minibase.config import Settings
from minibase.context import AppContext
from minibase.services.invitation_delivery import (
    LogInvitationSender,
    OutgoingInvitation,
    SmtpInvitationSender,
    parse_smtp_url,
    sender_from_settings,
)
from tests.helpers import create_org, signup


def _text(data: str) -> str:
    message = email.message_from_string(data.removesuffix(".\r\n"), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return str(message.get_content()) + str(message["Subject"])


@dataclass
class Mailbox:
    port: int = 0
    messages: list[tuple[str, list[str], str]] = field(default_factory=list)


async def _smtp_session(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, box: Mailbox
) -> None:
    """Just enough SMTP (RFC 5321) for smtplib: EHLO, MAIL, RCPT, DATA, QUIT."""
    sender, recipients = "", []

    async def reply(line: str) -> None:
        writer.write(f"{line}\r\n".encode())
        await writer.drain()

    await reply("220 test ESMTP")
    while line := (await reader.readline()).decode().rstrip("\r\n"):
        verb = line.split(" ", 1)[0].upper()
        if verb in ("EHLO", "HELO"):
            await reply("250 test")
        elif verb == "MAIL":
            sender = line.split(":", 1)[1].strip().strip("<>")
            await reply("250 OK")
        elif verb == "RCPT":
            recipients.append(line.split(":", 1)[1].strip().strip("<>"))
            await reply("250 OK")
        elif verb == "DATA":
            await reply("354 go ahead")
            data = await reader.readuntil(b"\r\n.\r\n")
            box.messages.append((sender, recipients, data.decode()))
            sender, recipients = "", []
            await reply("250 queued")
        elif verb == "QUIT":
            await reply("221 bye")
            break
        else:
            await reply("250 OK")
    writer.close()


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    box = Mailbox()
    server = await asyncio.start_server(lambda r, w: _smtp_session(r, w, box), "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    async with server:
        yield box


async def test_smtp_sender_delivers_and_keeps_nothing(mailbox: Mailbox) -> None:
    sender = SmtpInvitationSender(f"smtp://127.0.0.1:{mailbox.port}", "noreply@example.com")
    await sender.send(
        OutgoingInvitation(
            email="bob@example.com",
            organization_name="Acme",
            role="editor",
            link="http://x/invite#mb_inv_abc",
            expires_at=0,
        )
    )
    ((mail_from, rcpt, data),) = mailbox.messages
    assert mail_from == "noreply@example.com" and rcpt == ["bob@example.com"]
    assert "http://x/invite#mb_inv_abc" in _text(data) and "Acme" in _text(data)
    assert not [v for v in vars(sender).values() if "mb_inv_" in repr(v)]


async def test_app_mails_invitations_when_smtp_is_set(
    settings: Settings, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    from minibase.app import create_app

    configured = settings.model_copy(
        update={
            "smtp_url": f"smtp://127.0.0.1:{mailbox.port}",
            "public_url": "https://mb.example/",
        }
    )
    app: FastAPI = create_app(configured, run_migrations=False)
    async with app.router.lifespan_context(app):
        ctx: AppContext = app.state.ctx
        assert isinstance(ctx.invitation_sender, SmtpInvitationSender)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            admin = await signup(client)
            org = await create_org(client, admin)
            with caplog.at_level(logging.DEBUG):
                created = await client.post(
                    f"/v1/orgs/{org['id']}/invitations",
                    json={"email": "carol@example.com", "role": "viewer"},
                    headers=admin.headers,
                )
    assert created.status_code == 201
    token = created.json()["token"]
    ((_, rcpt, data),) = mailbox.messages
    assert rcpt == ["carol@example.com"]
    assert f"https://mb.example/invite#{token}" in _text(data)
    assert token not in caplog.text  # the SMTP sender does not log the link


async def test_smtp_failure_does_not_fail_the_invitation(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from minibase.app import create_app

    app: FastAPI = create_app(
        settings.model_copy(update={"smtp_url": "smtp://127.0.0.1:1"}), run_migrations=False
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            admin = await signup(client)
            org = await create_org(client, admin)
            created = await client.post(
                f"/v1/orgs/{org['id']}/invitations",
                json={"email": "dan@example.com", "role": "viewer"},
                headers=admin.headers,
            )
    assert created.status_code == 201
    assert "could not deliver" in caplog.text


def test_sender_choice_and_url_parsing() -> None:
    assert isinstance(sender_from_settings(Settings()), LogInvitationSender)
    target = parse_smtp_url("smtps://me%40x:p%3Ass@mail.example")
    assert (target.host, target.port, target.ssl) == ("mail.example", 465, True)
    assert (target.username, target.password) == ("me@x", "p:ss")
    assert parse_smtp_url("smtp://h").port == 25
    with pytest.raises(ValueError):
        parse_smtp_url("http://h")
