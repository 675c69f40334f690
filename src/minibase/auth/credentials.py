"""Resolve a bearer token to a :class:`Principal`: session tokens and API keys.

Tokens carry a typed prefix and 256 random bits; only their SHA-256 is stored. A
session expires after ``session_idle_days`` without use (sliding), and revocation (logout,
key revocation) takes effect on the very next request because nothing is cached.
"""

from __future__ import annotations

from sqlalchemy import select, update

from minibase.config import Settings
from minibase.domain.principal import SYSTEM, Principal
from minibase.domain.roles import Role
from minibase.errors import Unauthenticated
from minibase.ids import hash_token, now_ms
from minibase.store.hot_cache import CachedPrincipal
from minibase.store.lookups import find_api_key
from minibase.store.tables import api_keys, sessions
from minibase.store.unit_of_work import Store

SESSION_PREFIX = "mb_sess_"
API_KEY_PREFIX = "mb_key_"
INVITATION_PREFIX = "mb_inv_"
DAY_MS = 86_400_000
# Refresh a session's sliding expiry at most this often, so reads stay read-only.
_TOUCH_INTERVAL_MS = 60_000


def session_expiry(settings: Settings, now: int) -> int:
    return now + int(settings.session_idle_days * DAY_MS)


async def authenticate(store: Store, settings: Settings, token: str) -> Principal:
    """The principal a token stands for, or :class:`Unauthenticated`.

    Served from the hot cache when possible; revocation empties it (see
    :mod:`minibase.store.hot_cache`), and session expiry is checked on every use.
    """
    token_hash = hash_token(token)
    now = now_ms()
    cached = store.cache.principals.get(token_hash)
    # Re-read at least once a minute: it refreshes session expiry and a key's lastUsedAt.
    if (
        cached is not None
        and now - cached.touched_at <= _TOUCH_INTERVAL_MS
        and (cached.expires_at is None or cached.expires_at > now)
    ):
        return cached.principal
    epoch = store.cache.principals.epoch
    if token.startswith(SESSION_PREFIX):
        principal, expires_at = await _session_principal(store, settings, token_hash, now)
    elif token.startswith(API_KEY_PREFIX):
        principal, expires_at = await _api_key_principal(store, token_hash), None
    else:
        raise Unauthenticated("Unknown token.")
    store.cache.principals.put(token_hash, epoch, CachedPrincipal(principal, expires_at, now))
    return principal


async def _session_principal(
    store: Store, settings: Settings, token_hash: str, now: int
) -> tuple[Principal, int]:
    async with store.global_(SYSTEM) as uow:
        row = (
            await uow.execute(
                select(
                    sessions.c.id,
                    sessions.c.user_id,
                    sessions.c.last_used_at,
                    sessions.c.expires_at,
                    sessions.c.revoked_at,
                ).where(sessions.c.token_hash == token_hash)
            )
        ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthenticated("The session token is unknown, expired or revoked.")
    expires_at = row.expires_at
    if now - row.last_used_at > _TOUCH_INTERVAL_MS:
        expires_at = session_expiry(settings, now)
        async with store.global_(SYSTEM, write=True) as uow:
            await uow.execute(
                update(sessions)
                .where(sessions.c.id == row.id, sessions.c.revoked_at.is_(None))
                .values(last_used_at=now, expires_at=expires_at)
            )
    principal = Principal(kind="user", id=row.user_id, credential_id=row.id, user_id=row.user_id)
    return principal, expires_at


async def _api_key_principal(store: Store, token_hash: str) -> Principal:
    async with store.global_(SYSTEM) as uow:
        key = await find_api_key(uow, token_hash)
    if key is None or key.revoked_at is not None:
        raise Unauthenticated("The API key is unknown or revoked.")
    now = now_ms()
    if key.last_used_at is None or now - key.last_used_at > _TOUCH_INTERVAL_MS:
        async with store.tenant(key.organization_id, SYSTEM, write=True) as tenant_uow:
            await tenant_uow.execute(
                tenant_uow.update(api_keys)
                .where(api_keys.c.id == key.id, api_keys.c.revoked_at.is_(None))
                .values(last_used_at=now)
            )
    return Principal(
        kind="api_key",
        id=key.id,
        credential_id=key.id,
        organization_id=key.organization_id,
        role=Role(key.role),
    )
