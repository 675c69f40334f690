"""Notifications raised by changes other services make (a role change, an invitation):
each a call inside that change's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from minibase.services.notifications import NotificationKind, notify
from minibase.services.orgs import load_org
from minibase.store.tables import users
from minibase.store.unit_of_work import TenantUnitOfWork


async def actor_json(uow: TenantUnitOfWork) -> dict[str, Any]:
    """Who acts in ``uow``: ``{id, email, name}`` of a user, the key id of an API key."""
    principal = uow.principal
    if principal.user_id is not None:
        row = (
            await uow.execute(
                select(users.c.id, users.c.email, users.c.name).where(
                    users.c.id == principal.user_id
                )
            )
        ).first()
        if row is not None:
            return {"id": row.id, "email": row.email, "name": row.name}
    return {"id": principal.id, "email": None, "name": None}


async def notify_role_change(uow: TenantUnitOfWork, user_id: str, previous: str, role: str) -> None:
    org = await load_org(uow)
    await notify(
        uow,
        [user_id],
        NotificationKind.ROLE_CHANGED,
        {
            "organizationName": org.name,
            "role": role,
            "previousRole": previous,
            "by": await actor_json(uow),
        },
        org_id=uow.org_id,
        skip=[uow.principal.user_id],
    )


async def notify_invitation(
    uow: TenantUnitOfWork, email: str, org_name: str, role: str, invitation_id: str
) -> None:
    """In-app notice for a user who already has an account under ``email`` (the mail
    with the link goes out anyway, through the invitation sender)."""
    invitee = (await uow.execute(select(users.c.id).where(users.c.email == email))).scalar()
    await notify(
        uow,
        [invitee],
        NotificationKind.INVITATION,
        {
            "organizationName": org_name,
            "role": role,
            "invitationId": invitation_id,
            "by": await actor_json(uow),
        },
        org_id=uow.org_id,
    )
