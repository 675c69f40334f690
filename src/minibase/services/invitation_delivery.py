"""Delivering mail: invitation links, and other mail (notifications) through the same
sender: to the server log (development) or by SMTP.

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
delivery_log = logging.getLogger("minibase.delivery")
"""The development sender's channel: the only log lines allowed to carry a link's token
(``delivery=True``; see :mod:`minibase.log_redaction`)."""


@dataclass(frozen=True, slots=True)
class OutgoingInvitation:
    email: str
    organization_name: str
    role: str
    link: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """Any other mail (notifications): plain text, never a secret."""

    to: str
    subject: str
    text: str


@dataclass(frozen=True, slots=True)
class OutgoingVerification:
    """An email verification link (``services/email_verification.py``)."""

    email: str
    link: str
    expires_at: int


class InvitationSender(Protocol):
    """Hands an invitation or email verification link to its recipient; keeps no copy of
    it. ``send_mail`` delivers other mail the same way."""

    async def send(self, invitation: OutgoingInvitation) -> None: ...

    async def send_verification(self, verification: OutgoingVerification) -> None: ...

    async def send_mail(self, mail: OutgoingMail) -> None: ...


def invitation_link(settings: Settings, token: str) -> str:
    # The token travels in the fragment, which browsers never send to servers or proxies.
    return f"{settings.public_url.rstrip('/')}/invite#{token}"


class LogInvitationSender:
    """Development sender: writes the link to the server log at INFO (logger
    ``minibase.delivery``, the one logger whose lines may carry a link)."""

    async def send(self, invitation: OutgoingInvitation) -> None:
        delivery_log.info(
            "invitation for %s to %s (%s): %s",
            invitation.email,
            invitation.organization_name,
            invitation.role,
            invitation.link,
            extra={"delivery": True},
        )

    async def send_verification(self, verification: OutgoingVerification) -> None:
        delivery_log.info(
            "email verification for %s: %s",
            verification.email,
            verification.link,
            extra={"delivery": True},
        )

    async def send_mail(self, mail: OutgoingMail) -> None:
        # The subject only: the text may quote what members wrote.
        log.info("mail for %s: %s", mail.to, mail.subject)


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

    async def send_verification(self, verification: OutgoingVerification) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = verification.email
        message["Subject"] = "Confirm your email address for Minibase"
        message.set_content(
            "Confirm that this address is yours to finish signing up:\n"
            f"{verification.link}\n\nThe link works once and expires. If you did not sign "
            "up, ignore this mail.\n"
        )
        await asyncio.to_thread(self._send_sync, message)
        log.info("verification mailed to %s", verification.email)

    async def send_mail(self, mail: OutgoingMail) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        await asyncio.to_thread(self._send_sync, message)


def sender_from_settings(settings: Settings) -> InvitationSender:
    if settings.smtp_url:
        return SmtpInvitationSender(settings.smtp_url, settings.smtp_from)
    return LogInvitationSender()
