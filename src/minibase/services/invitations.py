"""Invitations: an admin invites an email address with a role; its owner accepts once.

The token (``mb_inv_`` + 256 random bits) is returned once, handed to the
:class:`~minibase.services.invitation_delivery.InvitationSender`, and stored only as its
SHA-256. Accepting is one conditional update (``accepted_at IS NULL AND revoked_at IS
NULL AND expires_at > now``), so a token works exactly once even under concurrency.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from sqlalchemy import select

from minibase.auth.credentials import INVITATION_PREFIX
from minibase.config import Settings
from minibase.domain.emails import fold_email, normalize_email
from minibase.domain.events import Event, EventKind
from minibase.domain.principal import Principal
from minibase.domain.roles import Role
from minibase.errors import Conflict, Forbidden, NotFound
from minibase.ids import hash_token, new_id, new_token, now_ms
from minibase.services import audit
from minibase.services.audit import RequestMeta
from minibase.services.invitation_delivery import (
    InvitationSender,
    OutgoingInvitation,
    invitation_link,
)
from minibase.services.notification_hooks import notify_invitation
from minibase.services.orgs import load_org
from minibase.services.pagination import keyset, page
from minibase.store.lookups import find_invitation_org
from minibase.store.tables import invitations, memberships, users
from minibase.store.unit_of_work import Store, TenantUnitOfWork

DAY_MS = 86_400_000
log = logging.getLogger("minibase.invitations")


def invitation_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "role": row.role,
        "invitedBy": row.invited_by,
        "createdAt": row.created_at,
        "expiresAt": row.expires_at,
    }


def _pending(uow: TenantUnitOfWork, now: int) -> Any:
    return (
        invitations.c.accepted_at.is_(None)
        & invitations.c.revoked_at.is_(None)
        & (invitations.c.expires_at > now)
    )


async def create_invitation(
    store: Store,
    settings: Settings,
    sender: InvitationSender,
    org_id: str,
    principal: Principal,
    email: str,
    role: Role,
    meta: RequestMeta,
) -> dict[str, Any]:
    email = normalize_email(email)
    token = new_token(INVITATION_PREFIX)
    invitation_id = new_id("inv")
    now = now_ms()
    expires_at = now + int(settings.invitation_ttl_days * DAY_MS)
    async with store.tenant(org_id, principal, write=True) as uow:
        org = await load_org(uow)
        already = (
            await uow.execute(
                uow.select(memberships, memberships.c.user_id)
                .join(users, users.c.id == memberships.c.user_id)
                .where(users.c.email == email)
            )
        ).first()
        if already is not None:
            raise Conflict("This address already belongs to a member.")
        await uow.execute(
            uow.insert(
                invitations,
                id=invitation_id,
                email=email,
                role=role.value,
                token_hash=hash_token(token),
                invited_by=principal.id,
                created_at=now,
                expires_at=expires_at,
            )
        )
        await notify_invitation(uow, email, org.name, role.value, invitation_id)
        await audit.record(
            uow,
            "invitation.create",
            "invitation",
            invitation_id,
            meta=meta,
            details={"email": email, "role": role.value},
        )
    outgoing = OutgoingInvitation(
        email=email,
        organization_name=org.name,
        role=role.value,
        link=invitation_link(settings, token),
        expires_at=expires_at,
    )
    try:
        await sender.send(outgoing)
    except (OSError, smtplib.SMTPException) as exc:
        # The invitation stands (the admin has the token); delivery can be repeated by
        # inviting again.
        log.warning("could not deliver the invitation to %s: %s", email, exc)
    return {
        "id": invitation_id,
        "email": email,
        "role": role.value,
        "token": token,
        "expiresAt": expires_at,
        "createdAt": now,
    }


async def list_invitations(
    store: Store, org_id: str, principal: Principal, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Pending invitations (neither accepted, revoked nor expired), oldest first."""
    async with store.tenant(org_id, principal) as uow:
        stmt = keyset(
            uow.select(invitations).where(_pending(uow, now_ms())),
            [invitations.c.created_at, invitations.c.id],
            cursor,
            limit,
        )
        rows = (await uow.execute(stmt)).all()
    return page(rows, limit, render=invitation_json, key=lambda r: [r.created_at, r.id])


async def revoke_invitation(
    store: Store, org_id: str, principal: Principal, invitation_id: str, meta: RequestMeta
) -> None:
    """Revoke a pending invitation; 404 when there is none with that id."""
    async with store.tenant(org_id, principal, write=True) as uow:
        result = await uow.execute(
            uow.update(invitations)
            .where(invitations.c.id == invitation_id, _pending(uow, now_ms()))
            .values(revoked_at=now_ms())
            .returning(invitations.c.id)
        )
        if result.first() is None:
            raise NotFound("No such pending invitation.")
        await audit.record(uow, "invitation.revoke", "invitation", invitation_id, meta=meta)


async def accept_invitation(
    store: Store, principal: Principal, token: str, meta: RequestMeta
) -> dict[str, Any]:
    """Join the invitation's org with its role.

    404 for an unknown, expired, revoked or used token (indistinguishable); 403 when the
    signed-in user's email is not the invited one; 409 when they are already a member.
    """
    assert principal.user_id is not None
    gone = NotFound("No such invitation, or it has expired, been revoked or been used.")
    if not token.startswith(INVITATION_PREFIX):
        raise gone
    async with store.global_(principal) as guow:
        found = await find_invitation_org(guow, hash_token(token))
        me = (
            await guow.execute(select(users.c.email).where(users.c.id == principal.user_id))
        ).scalar_one()
    if found is None:
        raise gone
    org_id, invitation_id = found
    now = now_ms()
    mismatch = False
    async with store.tenant(org_id, principal, write=True) as uow:
        row = (
            await uow.execute(
                uow.select(invitations).where(invitations.c.id == invitation_id, _pending(uow, now))
            )
        ).first()
        if row is None:
            raise gone
        if fold_email(row.email) != fold_email(me):
            mismatch = True
        else:
            member = (
                await uow.execute(
                    uow.select(memberships, memberships.c.role).where(
                        memberships.c.user_id == principal.user_id
                    )
                )
            ).first()
            if member is not None:
                raise Conflict("You are already a member of this organization.")
            result = await uow.execute(
                uow.update(invitations)
                .where(invitations.c.id == invitation_id, _pending(uow, now))
                .values(accepted_at=now, accepted_by=principal.user_id)
                .returning(invitations.c.id)
            )
            if result.first() is None:
                raise gone
            await uow.execute(
                uow.insert(memberships, user_id=principal.user_id, role=row.role, created_at=now)
            )
            uow.emit(
                Event(
                    org_id,
                    EventKind.MEMBERS,
                    (principal.user_id,),
                    extra={"change": "joined", "role": row.role},
                )
            )
            await audit.record(
                uow,
                "invitation.accept",
                "invitation",
                invitation_id,
                meta=meta,
                details={"role": row.role},
            )
            org = await load_org(uow)
    if mismatch:
        await audit.record_separately(
            store,
            org_id,
            principal,
            "invitation.accept",
            "invitation",
            invitation_id,
            meta=meta,
            outcome="denied",
            details={"reason": "email_mismatch"},
        )
        refused = Forbidden("This invitation was sent to another email address.")
        refused.audited = True
        raise refused
    return {"organization": {"id": org.id, "name": org.name}, "role": row.role}
