"""Delivering invitation links: to the server log (development) or by SMTP.

The plaintext token exists only in the creating response and in what a sender hands
on (a log line or a mail); no sender keeps a copy, and nothing is queued in the database.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

from minibase.config import Settings

log = logging.getLogger("minibase.invitations")


@dataclass(frozen=True, slots=True)
class OutgoingInvitation:
    email: str
    organization_name: str
    role: str
    link: str
    expires_at: int


class InvitationSender(Protocol):
    """Hands an invitation link to its recipient; keeps no copy of it."""

    async def send(self, invitation: OutgoingInvitation) -> None: ...


def invitation_link(settings: Settings, token: str) -> str:
    # The token travels in the fragment, which browsers never send to servers or proxies.
    return f"{settings.public_url.rstrip('/')}/invite#{token}"


class LogInvitationSender:
    """Development sender: writes the link to the server log at INFO."""

    async def send(self, invitation: OutgoingInvitation) -> None:
        log.info(
            "invitation for %s to %s (%s): %s",
            invitation.email,
            invitation.organization_name,
            invitation.role,
            invitation.link,
        )


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    ssl: bool
    username: str
    password: str


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://user:pass@host:587`` (STARTTLS when offered) or ``smtps://host:465``."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("smtp_url must look like smtp://user:pass@host:port or smtps://...")
    ssl = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if ssl else 25),
        ssl=ssl,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


class SmtpInvitationSender:
    """Sends the link by mail (stdlib ``smtplib`` in a worker thread)."""

    def __init__(self, smtp_url: str, sender: str, *, timeout: float = 10.0) -> None:
        self.target = parse_smtp_url(smtp_url)
        self.sender = sender
        self.timeout = timeout

    def _message(self, invitation: OutgoingInvitation) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = invitation.email
        message["Subject"] = f"You are invited to {invitation.organization_name} on Minibase"
        message.set_content(
            f"You have been invited to join {invitation.organization_name} as "
            f"{invitation.role}.\n\nAccept the invitation (sign in with this address "
            f"first):\n{invitation.link}\n\nThe link works once and expires.\n"
        )
        return message

    def _send_sync(self, message: EmailMessage) -> None:
        t = self.target
        client: smtplib.SMTP
        if t.ssl:
            client = smtplib.SMTP_SSL(t.host, t.port, timeout=self.timeout)
        else:
            client = smtplib.SMTP(t.host, t.port, timeout=self.timeout)
        with client:
            client.ehlo()
            if not t.ssl and client.has_extn("starttls"):
                client.starttls()
                client.ehlo()
            if t.username:
                client.login(t.username, t.password)
            client.send_message(message)

    async def send(self, invitation: OutgoingInvitation) -> None:
        await asyncio.to_thread(self._send_sync, self._message(invitation))
        log.info("invitation mailed to %s", invitation.email)


def sender_from_settings(settings: Settings) -> InvitationSender:
    if settings.smtp_url:
        return SmtpInvitationSender(settings.smtp_url, settings.smtp_from)
    return LogInvitationSender()
