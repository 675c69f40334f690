"""Following a flow: its failed runs notify its followers (``run_failed``).

A member who can read a flow may follow it; API keys cannot (they are no one to notify).
The engine calls :func:`notify_run_failed` in the transaction that records a run as
``failed`` or ``timed_out`` (a transaction fenced by the run's lease, so once per run).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError

from minibase.domain.principal import Principal
from minibase.errors import NotFound, ValidationFailed
from minibase.ids import now_ms
from minibase.services import flows
from minibase.services.notifications import NotificationKind, notify
from minibase.store.tables import flow_followers
from minibase.store.unit_of_work import Store, TenantUnitOfWork


def _user(principal: Principal) -> str:
    if principal.user_id is None:
        raise ValidationFailed(
            [{"field": "token", "message": "API keys cannot follow flows.", "type": "value_error"}]
        )
    return principal.user_id


async def _following(uow: TenantUnitOfWork, flow_id: str, user_id: str) -> bool:
    f = flow_followers.c
    row = (
        await uow.execute(
            uow.select(flow_followers, f.user_id).where(f.flow_id == flow_id, f.user_id == user_id)
        )
    ).first()
    return row is not None


async def get_following(
    store: Store, org_id: str, principal: Principal, flow_id: str
) -> dict[str, Any]:
    async with store.tenant(org_id, principal) as uow:
        await flows.get_flow_in(uow, flow_id)
        user = _user(principal)
        return {"flowId": flow_id, "following": await _following(uow, flow_id, user)}


async def set_following(
    store: Store, org_id: str, principal: Principal, flow_id: str, following: bool
) -> dict[str, Any]:
    f = flow_followers.c
    try:
        async with store.tenant(org_id, principal, write=True) as uow:
            await flows.get_flow_in(uow, flow_id)  # an unknown flow is a 404 first
            user = _user(principal)
            already = await _following(uow, flow_id, user)
            if following and not already:
                await uow.execute(
                    uow.insert(flow_followers, flow_id=flow_id, user_id=user, created_at=now_ms())
                )
            elif not following and already:
                await uow.execute(
                    uow.delete(flow_followers).where(f.flow_id == flow_id, f.user_id == user)
                )
    except IntegrityError:  # the same user following twice at once: one row stands
        pass
    return {"flowId": flow_id, "following": following}


async def notify_run_failed(
    uow: TenantUnitOfWork, flow_id: str, run_id: str, error: dict[str, Any] | None
) -> None:
    """``run_failed`` to the flow's followers, in the run's finishing transaction."""
    f = flow_followers.c
    followers = list(
        (await uow.execute(uow.select(flow_followers, f.user_id).where(f.flow_id == flow_id)))
        .scalars()
        .all()
    )
    if not followers:
        return
    try:
        name = orjson.loads((await flows.get_flow_in(uow, flow_id)).body)["name"]
    except NotFound:
        name = None
    await notify(
        uow,
        followers,
        NotificationKind.RUN_FAILED,
        {"flowId": flow_id, "flowName": name, "runId": run_id, "error": error},
        org_id=uow.org_id,
    )
