"""Email verification at signup (``MINIBASE_REQUIRE_EMAIL_VERIFICATION``).

With the setting on, a new account cannot sign in until its owner follows the link sent
to its address through the invitation sender (the server log in development, SMTP in
production): signup answers without a session, login answers 403
``email_not_verified``, and ``POST /v1/auth/verify-email {token}`` marks the address
verified and signs in. A link works once and expires after
``MINIBASE_EMAIL_VERIFICATION_TTL_HOURS``; like every token, it is stored only as its
SHA-256. ``POST /v1/auth/resend-verification {email}`` sends a new one (and always
answers 202, so it reveals nothing about which addresses have accounts).
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, insert, select, update

from minibase.config import Settings
from minibase.domain.emails import fold_email
from minibase.domain.principal import SYSTEM
from minibase.errors import MinibaseError, NotFound
from minibase.ids import hash_token, new_token, now_ms
from minibase.services.invitation_delivery import InvitationSender, OutgoingVerification
from minibase.store.tables import email_verifications, users
from minibase.store.unit_of_work import Store

log = logging.getLogger("minibase.accounts")

VERIFICATION_PREFIX = "mb_ver_"
HOUR_MS = 3_600_000


class EmailNotVerified(MinibaseError):
    status = 403
    code = "email_not_verified"
    default_message = (
        "Verify your email address first: follow the link we sent, or ask for a new one "
        "with POST /v1/auth/resend-verification."
    )


def verification_link(settings: Settings, token: str) -> str:
    # In the fragment, like invitation links: browsers never send it to a server.
    return f"{settings.public_url.rstrip('/')}/verify-email#{token}"


async def send_verification(
    store: Store, settings: Settings, sender: InvitationSender, user_id: str, email: str
) -> None:
    """Make a new link for ``user_id``'s ``email`` and hand it to ``sender``."""
    token = new_token(VERIFICATION_PREFIX)
    now = now_ms()
    expires_at = now + int(settings.email_verification_ttl_hours * HOUR_MS)
    async with store.global_(SYSTEM, write=True) as uow:
        await uow.execute(
            delete(email_verifications).where(email_verifications.c.expires_at <= now)
        )
        await uow.execute(
            insert(email_verifications).values(
                token_hash=hash_token(token),
                user_id=user_id,
                email=email,
                created_at=now,
                expires_at=expires_at,
            )
        )
    try:
        await sender.send_verification(
            OutgoingVerification(
                email=email, link=verification_link(settings, token), expires_at=expires_at
            )
        )
    except OSError as exc:
        log.warning("could not deliver a verification link: %s", exc.__class__.__name__)


async def verify(store: Store, token: str) -> str:
    """Use a verification token (once): the verified user's id; 404 when unknown,
    used, expired, or the account's address changed since."""
    now = now_ms()
    async with store.global_(SYSTEM, write=True) as uow:
        row = (
            await uow.execute(
                delete(email_verifications)
                .where(email_verifications.c.token_hash == hash_token(token))
                .returning(
                    email_verifications.c.user_id,
                    email_verifications.c.email,
                    email_verifications.c.expires_at,
                )
            )
        ).first()
        if row is None or row.expires_at <= now:
            raise NotFound("No such verification link, or it has expired or been used.")
        verified = await uow.execute(
            update(users)
            .where(users.c.id == row.user_id, users.c.email == row.email)
            .values(email_verified_at=now)
            .returning(users.c.id)
        )
        if verified.first() is None:
            raise NotFound("No such verification link, or it has expired or been used.")
    return str(row.user_id)


async def resend(store: Store, settings: Settings, sender: InvitationSender, raw: str) -> None:
    """A new link for an unverified account with this address; nothing otherwise."""
    email = fold_email(raw)
    async with store.global_(SYSTEM) as uow:
        row = (
            await uow.execute(
                select(users.c.id, users.c.email_verified_at).where(users.c.email == email)
            )
        ).first()
    if row is not None and row.email_verified_at is None:
        await send_verification(store, settings, sender, row.id, email)
