"""Accounts: signup, login, logout and the signed-in user's view of themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from minibase.auth.credentials import SESSION_PREFIX, session_expiry
from minibase.auth.passwords import hash_password, needs_rehash, verify_password
from minibase.config import Settings
from minibase.domain.principal import SYSTEM, Principal
from minibase.errors import Conflict, Unauthenticated
from minibase.ids import hash_token, new_id, new_token, now_ms
from minibase.realtime.events import Event
from minibase.services import audit
from minibase.services.audit import RequestMeta
from minibase.store.tables import memberships, organizations, sessions, users
from minibase.store.unit_of_work import Store


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: dict[str, Any]
    token: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


def user_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "email": row.email, "name": row.name}


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


async def signup(
    store: Store,
    settings: Settings,
    email: str,
    password: str,
    name: str | None,
    meta: RequestMeta,
) -> SignedIn:
    email = normalize_email(email)
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
    token = await _new_session(store, settings, user_id, meta)
    return SignedIn({"id": user_id, "email": email, "name": display_name}, token)


async def login(
    store: Store, settings: Settings, email: str, password: str, meta: RequestMeta
) -> SignedIn:
    """A new session for valid credentials; one indistinguishable 401 otherwise."""
    email = normalize_email(email)
    async with store.global_(SYSTEM) as uow:
        row = (await uow.execute(select(users).where(users.c.email == email))).first()
    ok = await verify_password(row.password_hash if row else None, password)
    if row is None or not ok:
        if row is not None:
            await _audit_for_user(store, row.id, "auth.login", meta, outcome="failure")
        raise Unauthenticated("Invalid email or password.")
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
        uow.emit(Event("*", "credentials", (principal.credential_id,)))
    assert principal.user_id is not None
    await _audit_for_user(store, principal.user_id, "auth.logout", meta, outcome="success")


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
    return {
        "user": user_json(user),
        "memberships": [
            {"organization": {"id": r.id, "name": r.name}, "role": r.role} for r in rows
        ],
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
    store: Store, user_id: str, action: str, meta: RequestMeta, *, outcome: str
) -> None:
    principal = Principal(kind="user", id=user_id, credential_id="", user_id=user_id)
    for org_id in await user_org_ids(store, user_id):
        await audit.record_separately(
            store, org_id, principal, action, "user", user_id, meta=meta, outcome=outcome
        )
