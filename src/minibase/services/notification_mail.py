"""Mailing notifications: the rows :func:`~minibase.services.notifications.notify` marked
``pending``, through the invitation sender's ``send_mail``.

The table is the outbox. Every instance runs a :class:`NotificationMailer` that wakes on
``notifications`` events (and sweeps every :data:`SWEEP_SECONDS` for anything an event
did not announce) and claims each pending row with a conditional update: whichever
instance flips it from ``pending`` to ``sending`` mails it, so a notification is mailed
once however many instances run. A claim older than :data:`STALE_CLAIM_MS` (an instance
died mid-send) is handed back to ``pending``. A delivery error marks the row ``failed``
and is logged with the address only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
from typing import Any

from sqlalchemy import select, update

from minibase.config import Settings
from minibase.domain.events import Event, EventKind
from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.services.invitation_delivery import InvitationSender, OutgoingMail
from minibase.services.notifications import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    NotificationKind,
    opened,
)
from minibase.store.tables import notifications, users
from minibase.store.unit_of_work import Store

log = logging.getLogger("minibase.notifications")

SWEEP_SECONDS = 30.0
STALE_CLAIM_MS = 5 * 60_000
BATCH = 50
EXCERPT = 280


def _excerpt(text: Any) -> str:
    text = str(text or "")
    return str(text) if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def render_mail(kind: str, data: dict[str, Any], public_url: str) -> tuple[str, str]:
    """Subject and plain text of a notification's mail."""
    base = public_url.rstrip("/")
    by = (data.get("by") or {}).get("name") or (data.get("by") or {}).get("email") or "Someone"
    flow_name = data.get("flowName") or "a flow"
    link = ""
    if data.get("organizationId") and data.get("flowId"):
        link = f"{base}/orgs/{data['organizationId']}/flows/{data['flowId']}"
    elif data.get("organizationId"):
        link = f"{base}/orgs/{data['organizationId']}"
    if kind == NotificationKind.MENTION:
        subject = f"{by} mentioned you on {flow_name}"
        text = f"{by} mentioned you in a comment on {flow_name}:\n\n{_excerpt(data.get('excerpt'))}"
    elif kind == NotificationKind.COMMENT_REPLY:
        subject = f"{by} replied on {flow_name}"
        text = f"{by} replied on {flow_name}:\n\n{_excerpt(data.get('excerpt'))}"
    elif kind == NotificationKind.ROLE_CHANGED:
        org = data.get("organizationName") or "an organization"
        subject = f"Your role in {org} is now {data.get('role')}"
        text = f"{by} changed your role in {org} to {data.get('role')}."
    elif kind == NotificationKind.QUOTA_WARNING:
        org = data.get("organizationName") or "your organization"
        subject = f"{org} has used {data.get('percent')}% of {data.get('quota')}"
        text = (
            f"{org} uses {data.get('used')} of {data.get('limit')} ({data.get('quota')}, "
            f"{data.get('percent')}%)."
        )
    elif kind == NotificationKind.TASK_ASSIGNED:
        subject = f"{by} assigned you a task: {_excerpt(data.get('title'))[:120]}"
        text = f'{by} assigned you the task "{_excerpt(data.get("title"))}".'
    elif kind == NotificationKind.RUN_FAILED:
        subject = f"A run of {flow_name} failed"
        text = f"A run of {flow_name} failed: {_excerpt((data.get('error') or {}).get('message'))}"
    else:
        subject, text = f"Minibase: {kind}", "You have a new notification."
    if link:
        text += f"\n\n{link}\n"
    return f"[Minibase] {subject}", text


class NotificationMailer:
    """Delivers pending notification mail (one per instance; see the module docstring)."""

    def __init__(self, store: Store, settings: Settings, sender: InvitationSender) -> None:
        self.store = store
        self.settings = settings
        self.sender = sender
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    def start(self) -> None:
        """Start delivering (subscribe :meth:`on_event` to the bus as well)."""
        self._tasks = [
            asyncio.create_task(self._loop(), name="notification-mailer"),
            asyncio.create_task(self._tick(), name="notification-mailer-sweep"),
        ]
        self._wake.set()

    async def close(self) -> None:
        """Stop between batches (a transaction cut by cancellation would lose its
        connection), or cancel after a few seconds."""
        self._closing = True
        self._wake.set()
        if self._tasks:
            await asyncio.wait(self._tasks[:1], timeout=5)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def on_event(self, event: Event) -> None:
        if event.kind in (EventKind.NOTIFICATIONS, EventKind.RESYNC):
            self._wake.set()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            self._wake.set()

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:
                while not self._closing and await self.deliver_pending():
                    pass
            except (OSError, RuntimeError) as exc:  # the database went away: next sweep
                log.warning("notification mail sweep failed: %s", exc)

    async def deliver_pending(self) -> int:
        """Claim and mail one batch; the number of rows claimed."""
        n = notifications.c
        now = now_ms()
        async with self.store.global_(SYSTEM, write=True) as uow:
            await uow.execute(
                update(notifications)
                .where(n.email_status == SENDING, n.email_claimed_at < now - STALE_CLAIM_MS)
                .values(email_status=PENDING)
            )
            candidates = (
                (
                    await uow.execute(
                        select(n.id)
                        .where(n.email_status == PENDING)
                        .order_by(n.created_at)
                        .limit(BATCH)
                    )
                )
                .scalars()
                .all()
            )
            if not candidates:
                return 0
            claimed = (
                (
                    await uow.execute(
                        update(notifications)
                        .where(n.id.in_(candidates), n.email_status == PENDING)
                        .values(email_status=SENDING, email_claimed_at=now)
                        .returning(n.id)
                    )
                )
                .scalars()
                .all()
            )
            rows = await opened(
                uow,
                (
                    await uow.execute(
                        select(n.id, n.kind, n.source_org_id, n.data, users.c.email)
                        .join(users, users.c.id == n.user_id)
                        .where(n.id.in_(list(claimed)))
                    )
                ).all(),
            )
        outcome: dict[str, str] = {}
        for row in rows:
            data = {**row.data, "organizationId": row.source_org_id}
            subject, text = render_mail(row.kind, data, self.settings.public_url)
            try:
                await self.sender.send_mail(OutgoingMail(row.email, subject, text))
                outcome[row.id] = SENT
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("could not mail a notification to %s: %s", row.email, exc)
                outcome[row.id] = FAILED
        for status in (SENT, FAILED):
            ids = [i for i, s in outcome.items() if s == status]
            if ids:
                async with self.store.global_(SYSTEM, write=True) as uow:
                    await uow.execute(
                        update(notifications).where(n.id.in_(ids)).values(email_status=status)
                    )
        return len(claimed)
