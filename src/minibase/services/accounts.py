"""Accounts: signup, login, logout and the signed-in user's view of themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from minibase.auth.credentials import SESSION_PREFIX, session_expiry
from minibase.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from minibase.config import Settings
from minibase.domain.emails import fold_email, normalize_email
from minibase.domain.events import ALL_ORGS, Event, EventKind
from minibase.domain.principal import SYSTEM, Principal
from minibase.errors import Conflict, Unauthenticated, ValidationFailed
from minibase.ids import hash_token, new_id, new_token, now_ms
from minibase.services import audit, email_verification, notifications
from minibase.services.audit import RequestMeta
from minibase.services.invitation_delivery import InvitationSender
from minibase.services.login_limits import Bucket, LoginLimiter, account_bucket, address_bucket
from minibase.store.tables import memberships, organizations, sessions, users
from minibase.store.unit_of_work import Store


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: dict[str, Any]
    token: str | None
    """``None`` when the account must verify its email address first."""


class LoginFailed(Unauthenticated):
    """A failed login. Its audit events are recorded by :meth:`record` after the answer
    has been sent, so a wrong password for an account in many orgs answers as fast as an
    unknown email (no timing difference to enumerate accounts with)."""

    def __init__(self, store: Store, user_id: str | None, meta: RequestMeta) -> None:
        super().__init__("Invalid email or password.")
        self._store = store
        self._user_id = user_id
        self._meta = meta

    async def record(self) -> None:
        if self._user_id is not None:
            await _audit_for_user(
                self._store, self._user_id, "auth.login", self._meta, outcome="failure"
            )


def user_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "name": row.name,
        "emailVerified": row.email_verified_at is not None,
    }


async def _new_session(store: Store, settings: Settings, user_id: str, meta: RequestMeta) -> str:
    token = new_token(SESSION_PREFIX)
    now = now_ms()
    async with store.global_(SYSTEM, write=True) as uow:
        await uow.execute(
            insert(sessions).values(
                id=new_id("ses"),
                user_id=user_id,
                token_hash=hash_token(token),
                created_at=now,
                last_used_at=now,
                expires_at=session_expiry(settings, now),
                ip=meta.ip,
                user_agent=(meta.user_agent or "")[:512] or None,
            )
        )
    return token


def _buckets(kind: str, settings: Settings, email: str, meta: RequestMeta) -> list[Bucket]:
    return [
        account_bucket(kind, email, settings.login_max_attempts),
        address_bucket(kind, meta.ip, settings.login_max_attempts_per_address),
    ]


def _sessions_ended(user_id: str, session_ids: list[str]) -> Event:
    """Sessions are not bound to an org: the event's ``org_id`` is ``*``. Sockets
    authenticated by one of ``ids`` close with 4401, and the hot cache forgets them."""
    return Event(
        ALL_ORGS,
        EventKind.CREDENTIALS,
        tuple(session_ids),
        extra={"type": "session", "userId": user_id},
    )


async def signup(
    store: Store,
    settings: Settings,
    email: str,
    password: str,
    name: str | None,
    meta: RequestMeta,
    sender: InvitationSender | None = None,
) -> SignedIn:
    """Create an account and its first session.

    The address is normalized (:func:`minibase.domain.emails.normalize_email`: one person,
    one account). With ``MINIBASE_REQUIRE_EMAIL_VERIFICATION`` there is no session yet:
    a verification link goes to the address through ``sender`` instead. Failed signups
    (the address is taken, which could be probed for) count against the same kind of
    limits as failed logins.
    """
    email = normalize_email(email)
    limiter = LoginLimiter(store, settings.login_window_seconds)
    buckets = _buckets("signup", settings, email, meta)
    await limiter.check(*buckets)
    try:
        user = await create_user(store, email, password, name)
    except Conflict:
        await limiter.failed(*buckets)
        raise
    user_id = user["id"]
    if settings.require_email_verification:
        assert sender is not None, "verification needs a sender"
        await email_verification.send_verification(store, settings, sender, user_id, email)
        return SignedIn(user, None)
    token = await _new_session(store, settings, user_id, meta)
    return SignedIn(user, token)


async def create_user(store: Store, email: str, password: str, name: str | None) -> dict[str, Any]:
    """Create an account without a session (signup's write; ``minibase admin create-user``).

    409 when the (normalized) address is taken; 422 for a password out of bounds."""
    email = normalize_email(email)
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        message = f"The password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
        raise ValidationFailed([{"field": "password", "message": message}], message)
    password_hash = await hash_password(password)
    user_id = new_id("usr")
    now = now_ms()
    display_name = (name or "").strip() or email.split("@")[0]
    try:
        async with store.global_(SYSTEM, write=True) as uow:
            await uow.execute(
                insert(users).values(
                    id=user_id,
                    email=email,
                    name=display_name,
                    password_hash=password_hash,
                    created_at=now,
                    password_changed_at=now,
                )
            )
    except IntegrityError:
        raise Conflict("An account with this email already exists.") from None
    return {"id": user_id, "email": email, "name": display_name, "emailVerified": False}


async def resend_verification(
    store: Store, settings: Settings, sender: InvitationSender, email: str, meta: RequestMeta
) -> None:
    """A new verification link for an unverified account with this address (nothing for
    any other address, and the caller cannot tell). Every request counts against the
    login limits, since each may send a mail."""
    limiter = LoginLimiter(store, settings.login_window_seconds)
    buckets = _buckets("verify", settings, fold_email(email), meta)
    await limiter.check(*buckets)
    await limiter.failed(*buckets)
    await email_verification.resend(store, settings, sender, email)


async def sign_in_verified(
    store: Store, settings: Settings, user_id: str, meta: RequestMeta
) -> SignedIn:
    """A session for a user who has just verified their address."""
    async with store.global_(SYSTEM) as uow:
        row = (await uow.execute(select(users).where(users.c.id == user_id))).one()
    token = await _new_session(store, settings, user_id, meta)
    await _audit_for_user(store, user_id, "auth.verify_email", meta, outcome="success")
    return SignedIn(user_json(row), token)


async def login(
    store: Store, settings: Settings, email: str, password: str, meta: RequestMeta
) -> SignedIn:
    """A new session for valid credentials; one indistinguishable 401 otherwise.

    Too many failures for the account or the client address: 429 until the block ends.
    With ``MINIBASE_REQUIRE_EMAIL_VERIFICATION``, a right password for an address not yet
    verified is 403 ``email_not_verified``.
    """
    email = fold_email(email)
    limiter = LoginLimiter(store, settings.login_window_seconds)
    buckets = _buckets("login", settings, email, meta)
    await limiter.check(*buckets)
    async with store.global_(SYSTEM) as uow:
        row = (await uow.execute(select(users).where(users.c.email == email))).first()
    ok = await verify_password(row.password_hash if row else None, password)
    if row is None or not ok:
        await limiter.failed(*buckets)
        raise LoginFailed(store, row.id if row is not None else None, meta)
    await limiter.succeeded(buckets[0])
    if settings.require_email_verification and row.email_verified_at is None:
        raise email_verification.EmailNotVerified()
    if needs_rehash(row.password_hash):
        new_hash = await hash_password(password)
        async with store.global_(SYSTEM, write=True) as uow:
            await uow.execute(
                update(users).where(users.c.id == row.id).values(password_hash=new_hash)
            )
    token = await _new_session(store, settings, row.id, meta)
    await _audit_for_user(store, row.id, "auth.login", meta, outcome="success")
    return SignedIn(user_json(row), token)


async def logout(store: Store, principal: Principal, meta: RequestMeta) -> None:
    if principal.kind != "user":
        raise Unauthenticated("Only session tokens can log out; revoke API keys instead.")
    async with store.global_(SYSTEM, write=True) as uow:
        await uow.execute(
            update(sessions)
            .where(sessions.c.id == principal.credential_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=now_ms())
        )
        # Live sockets of this session close at once (every instance hears it).
        uow.emit(_sessions_ended(principal.user_id or "", [principal.credential_id]))
    assert principal.user_id is not None
    await _audit_for_user(store, principal.user_id, "auth.logout", meta, outcome="success")


async def change_password(
    store: Store,
    settings: Settings,
    principal: Principal,
    current_password: str,
    new_password: str,
    end_other_sessions: bool,
    meta: RequestMeta,
) -> None:
    """Replace the password after checking the current one (422 when it is wrong).

    Other sessions end by default; the calling session stays signed in. Wrong current
    passwords count against the account's login limit.
    """
    assert principal.user_id is not None
    async with store.global_(principal) as uow:
        row = (await uow.execute(select(users).where(users.c.id == principal.user_id))).one()
    limiter = LoginLimiter(store, settings.login_window_seconds)
    buckets = _buckets("login", settings, row.email, meta)
    await limiter.check(*buckets)
    if not await verify_password(row.password_hash, current_password):
        await limiter.failed(*buckets)
        await _audit_for_user(store, row.id, "auth.password_change", meta, outcome="failure")
        raise ValidationFailed(
            [
                {
                    "field": "currentPassword",
                    "message": "The current password is wrong.",
                    "type": "wrong_password",
                }
            ],
            "The current password is wrong.",
        )
    new_hash = await hash_password(new_password)
    now = now_ms()
    async with store.global_(SYSTEM, write=True) as uow:
        await uow.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(password_hash=new_hash, password_changed_at=now)
        )
        if end_other_sessions:
            ended = (
                (
                    await uow.execute(
                        update(sessions)
                        .where(
                            sessions.c.user_id == row.id,
                            sessions.c.id != principal.credential_id,
                            sessions.c.revoked_at.is_(None),
                        )
                        .values(revoked_at=now)
                        .returning(sessions.c.id)
                    )
                )
                .scalars()
                .all()
            )
            if ended:
                uow.emit(_sessions_ended(row.id, list(ended)))
    await _audit_for_user(
        store,
        row.id,
        "auth.password_change",
        meta,
        outcome="success",
        details={"endOtherSessions": end_other_sessions},
    )


async def me(store: Store, principal: Principal) -> dict[str, Any]:
    assert principal.user_id is not None
    async with store.global_(principal) as uow:
        user = (await uow.execute(select(users).where(users.c.id == principal.user_id))).one()
        rows = (
            await uow.execute(
                select(organizations.c.id, organizations.c.name, memberships.c.role)
                .join(memberships, memberships.c.organization_id == organizations.c.id)
                .where(memberships.c.user_id == principal.user_id)
                .order_by(organizations.c.created_at, organizations.c.id)
            )
        ).all()
        emails = await notifications.email_preferences_in(uow, principal.user_id)
    return {
        "user": user_json(user),
        "memberships": [
            {"organization": {"id": r.id, "name": r.name}, "role": r.role} for r in rows
        ],
        "notificationEmails": emails,
    }


async def user_org_ids(store: Store, user_id: str) -> list[str]:
    """Every org ``user_id`` belongs to (their auth events go to each org's audit log)."""
    principal = Principal(kind="user", id=user_id, credential_id="", user_id=user_id)
    async with store.global_(principal) as uow:
        return list(
            (
                await uow.execute(
                    select(memberships.c.organization_id).where(memberships.c.user_id == user_id)
                )
            ).scalars()
        )


async def _audit_for_user(
    store: Store,
    user_id: str,
    action: str,
    meta: RequestMeta,
    *,
    outcome: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Record a user's auth event in the audit log of every org they belong to."""
    principal = Principal(kind="user", id=user_id, credential_id="", user_id=user_id)
    for org_id in await user_org_ids(store, user_id):
        await audit.record_separately(
            store,
            org_id,
            principal,
            action,
            "user",
            user_id,
            meta=meta,
            outcome=outcome,
            details=details,
        )
