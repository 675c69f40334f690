"""Outbound event webhooks: subscriptions, the outbox of deliveries, and one attempt.

**Outbox.** Every committed change records its domain event on its unit of work (flows,
members, runs, quota warnings). :func:`record_deliveries` is the store's
``before_commit`` hook: inside the same transaction it turns those events into webhook
events (:func:`webhook_events`) and writes one delivery row per subscribed webhook, with
its timer (``delivery_timers``, global). So a change that commits has its deliveries, a
change rolled back has none, and a restart loses nothing.

**Delivery.** The loop (``services/event_delivery.py``) claims a due timer in a
transaction of its org (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), moves it a lease
ahead, sends the payload signed as Standard Webhooks (``webhook-id`` is the delivery's
id, the same on every retry) and records the outcome: a 2xx ends it; anything else is
retried with exponential backoff (``MINIBASE_WEBHOOK_RETRY_BASE_SECONDS``, doubling, at
most an hour apart) until ``MINIBASE_WEBHOOK_RETRY_HOURS`` after the event, then it is
``failed``. The target's address is checked at creation and again at every attempt.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select, update
from standardwebhooks.webhooks import Webhook

from minibase.config import Settings
from minibase.crypto.webhook_secrets import SecretUnreadable
from minibase.domain.events import Event, EventKind
from minibase.domain.principal import SYSTEM
from minibase.engine.net import BlockedAddress, ResponseTooLarge, check_url, fetch
from minibase.errors import NotFound, ValidationFailed
from minibase.ids import new_id, now_ms
from minibase.services import audit
from minibase.services.audit import RequestMeta
from minibase.services.flow_changes import author_id
from minibase.services.pagination import keyset, page
from minibase.services.webhooks import (
    new_secret,
    open_hook_secret,
    seal_hook_secret,
    secrets_key,
)
from minibase.store.tables import delivery_timers, event_deliveries, event_webhooks
from minibase.store.unit_of_work import Store, TenantUnitOfWork, UnitOfWork

EVENTS = (
    "run.succeeded",
    "run.failed",
    "flow.created",
    "flow.updated",
    "flow.deleted",
    "member.added",
    "quota.warning",
)
MAX_BACKOFF_SECONDS = 3600.0
RESPONSE_MAX_BYTES = 64 * 1024
"""The most of a receiver's answer read (its body is not kept)."""
LEASE_EXTRA_SECONDS = 30.0


def _invalid(field: str, message: str, kind: str = "value_error") -> ValidationFailed:
    return ValidationFailed([{"field": field, "message": message, "type": kind}])


def webhook_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "organizationId": row.organization_id,
        "url": row.url,
        "events": list(row.events),
        "createdBy": row.created_by,
        "createdAt": row.created_at,
    }


def delivery_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "webhookId": row.webhook_id,
        "event": row.event,
        "status": row.status,
        "attempts": row.attempts,
        "responseStatus": row.response_status,
        "error": row.last_error,
        "nextAttemptAt": row.next_attempt_at,
        "lastAttemptAt": row.last_attempt_at,
        "deliveredAt": row.delivered_at,
        "createdAt": row.created_at,
        "payload": orjson.loads(row.payload),
    }


async def _clean(body: Mapping[str, Any], allow_private: bool) -> tuple[str, list[str]]:
    unknown = sorted(set(body) - {"url", "events"})
    if unknown:
        raise _invalid(unknown[0], "Unknown field.", "extra_forbidden")
    url = body.get("url")
    if not isinstance(url, str) or not 0 < len(url) <= 2000:
        raise _invalid("url", "An http or https URL (2000 characters at most).", "string_type")
    events = body.get("events")
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise _invalid("events", f"A non-empty list of: {', '.join(EVENTS)}.", "list_type")
    unknown_events = sorted({e for e in events if e not in EVENTS})
    if unknown_events:
        raise _invalid(
            "events",
            f"Unknown events: {', '.join(unknown_events[:10])[:200]}; known: {', '.join(EVENTS)}.",
            "enum",
        )
    try:
        await check_url(url, allow_private=allow_private)
    except BlockedAddress as exc:
        raise _invalid("url", str(exc), "blocked_address") from None
    return url, list(dict.fromkeys(events))


async def _load(uow: TenantUnitOfWork, webhook_id: str) -> Any:
    row = (
        await uow.execute(uow.select(event_webhooks).where(event_webhooks.c.id == webhook_id))
    ).first()
    if row is None:
        raise NotFound("No such event webhook.")
    return row


async def create_webhook(
    uow: TenantUnitOfWork, settings: Settings, body: Mapping[str, Any], meta: RequestMeta
) -> dict[str, Any]:
    url, events = await _clean(body, settings.webhook_allow_private)
    webhook_id = new_id("ewh")
    secret = new_secret()
    await uow.execute(
        uow.insert(
            event_webhooks,
            id=webhook_id,
            url=url,
            events=events,
            sealed_secret=await seal_hook_secret(
                uow, event_webhooks.c.sealed_secret, secrets_key(settings), webhook_id, secret
            ),
            created_by=author_id(uow.principal),
            created_at=now_ms(),
        )
    )
    await audit.record(
        uow,
        "event_webhook.create",
        "event_webhook",
        webhook_id,
        meta=meta,
        details={"url": url, "events": events},
    )
    return {**webhook_json(await _load(uow, webhook_id)), "secret": secret}


async def list_webhooks(uow: TenantUnitOfWork, *, limit: int, cursor: str | None) -> dict[str, Any]:
    stmt = keyset(
        uow.select(event_webhooks),
        [event_webhooks.c.created_at, event_webhooks.c.id],
        cursor,
        limit,
    )
    rows = (await uow.execute(stmt)).all()
    return page(rows, limit, render=webhook_json, key=lambda r: [r.created_at, r.id])


async def delete_webhook(uow: TenantUnitOfWork, webhook_id: str, meta: RequestMeta) -> None:
    await _load(uow, webhook_id)
    pending = (
        await uow.execute(
            uow.select(event_deliveries, event_deliveries.c.id).where(
                event_deliveries.c.webhook_id == webhook_id, event_deliveries.c.status == "pending"
            )
        )
    ).scalars()
    ids = list(pending)
    if ids:
        await uow.execute(delete(delivery_timers).where(delivery_timers.c.delivery_id.in_(ids)))
    await uow.execute(
        uow.delete(event_deliveries).where(event_deliveries.c.webhook_id == webhook_id)
    )
    await uow.execute(uow.delete(event_webhooks).where(event_webhooks.c.id == webhook_id))
    await audit.record(uow, "event_webhook.delete", "event_webhook", webhook_id, meta=meta)


async def list_deliveries(
    uow: TenantUnitOfWork, webhook_id: str, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """The webhook's deliveries, newest first."""
    await _load(uow, webhook_id)
    stmt = keyset(
        uow.select(event_deliveries).where(event_deliveries.c.webhook_id == webhook_id),
        [event_deliveries.c.created_at, event_deliveries.c.id],
        cursor,
        limit,
        descending=True,
    )
    rows = (await uow.execute(stmt)).all()
    return page(rows, limit, render=delivery_json, key=lambda r: [r.created_at, r.id])


# --- the outbox ---------------------------------------------------------------------------

_WATCHED = frozenset({EventKind.FLOW, EventKind.MEMBERS, EventKind.RUNS, EventKind.QUOTA_WARNING})


def webhook_events(event: Event) -> list[tuple[str, dict[str, Any]]]:
    """The webhook events (name, data) a domain event stands for (often none)."""
    kind, extra = event.kind, event.extra
    if kind == EventKind.FLOW and event.ids:
        data: dict[str, Any] = {"flowId": event.ids[0]}
        if extra.get("deleted"):
            return [("flow.deleted", data)]
        if event.version is None:
            return []
        data["version"] = event.version
        return [("flow.created" if event.version == 1 else "flow.updated", data)]
    if kind == EventKind.MEMBERS and extra.get("change") == "joined" and event.ids:
        return [("member.added", {"userId": event.ids[0], "role": str(extra.get("role"))})]
    if kind == EventKind.RUNS and len(event.ids) == 2:
        status = extra.get("status")
        name = {"succeeded": "run.succeeded", "failed": "run.failed", "timed_out": "run.failed"}
        if status in name:
            return [
                (name[status], {"flowId": event.ids[0], "runId": event.ids[1], "status": status})
            ]
        return []
    if kind == EventKind.QUOTA_WARNING:
        return [("quota.warning", dict(extra))]
    return []


async def record_deliveries(uow: TenantUnitOfWork) -> None:
    """The store's ``before_commit`` hook (see the module docstring)."""
    if not any(e.kind in _WATCHED for e in uow.events):
        return
    wanted = [
        item for event in uow.events if event.org_id == uow.org_id for item in webhook_events(event)
    ]
    if not wanted:
        return
    hooks = (
        await uow.execute(uow.select(event_webhooks, event_webhooks.c.id, event_webhooks.c.events))
    ).all()
    if not hooks:
        return
    now = now_ms()
    stamp = datetime.fromtimestamp(now / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
    deliveries: list[dict[str, Any]] = []
    for name, data in wanted:
        payload = orjson.dumps(
            {"type": name, "timestamp": stamp, "organizationId": uow.org_id, "data": data}
        )
        for hook in hooks:
            if name in hook.events:
                deliveries.append(
                    {"id": new_id("msg"), "webhook_id": hook.id, "event": name, "payload": payload}
                )
    for row in deliveries:
        await uow.execute(
            uow.insert(
                event_deliveries,
                status="pending",
                attempts=0,
                response_status=None,
                last_error=None,
                next_attempt_at=now,
                last_attempt_at=None,
                delivered_at=None,
                created_at=now,
                **row,
            )
        )
        await uow.execute(
            insert(delivery_timers).values(delivery_id=row["id"], owner_org=uow.org_id, due_at=now)
        )
    if deliveries:
        uow.emit(
            Event(uow.org_id, EventKind.WEBHOOK_DELIVERIES, tuple(row["id"] for row in deliveries))
        )


# --- delivering ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timer:
    delivery_id: str
    org_id: str


async def due(uow: UnitOfWork, *, now: int, limit: int = 50) -> list[Timer]:
    t = delivery_timers.c
    rows = (
        await uow.execute(
            select(t.delivery_id, t.owner_org)
            .where(t.due_at <= now)
            .order_by(t.due_at)
            .limit(limit)
        )
    ).all()
    return [Timer(r.delivery_id, r.owner_org) for r in rows]


async def earliest(uow: UnitOfWork) -> int | None:
    value = (await uow.execute(select(func.min(delivery_timers.c.due_at)))).scalar_one_or_none()
    return None if value is None else int(value)


def backoff_seconds(base: float, attempts: int) -> float:
    """The wait after the ``attempts``-th failure: ``base`` doubling, capped, with jitter."""
    wait: float = min(MAX_BACKOFF_SECONDS, base * 2.0 ** max(0, attempts - 1))
    return wait * random.uniform(1.0, 1.2)


@dataclass(frozen=True, slots=True)
class Claimed:
    url: str
    secret: str
    payload: bytes
    attempts: int
    created_at: int


async def _claim(store: Store, settings: Settings, timer: Timer, now: int) -> Claimed | None:
    t = delivery_timers.c
    lease_ms = int((settings.webhook_timeout_seconds + LEASE_EXTRA_SECONDS) * 1000)
    async with store.tenant(timer.org_id, SYSTEM, write=True) as uow:
        stmt = select(t.due_at).where(t.delivery_id == timer.delivery_id, t.due_at <= now)
        if uow.is_postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        if (await uow.execute(stmt)).scalar_one_or_none() is None:
            return None  # another instance holds it, or it moved
        row = (
            await uow.execute(
                uow.select(event_deliveries).where(event_deliveries.c.id == timer.delivery_id)
            )
        ).first()
        hook = (
            None
            if row is None
            else (
                await uow.execute(
                    uow.select(event_webhooks).where(event_webhooks.c.id == row.webhook_id)
                )
            ).first()
        )
        if row is None or hook is None or row.status != "pending":
            await uow.execute(delete(delivery_timers).where(t.delivery_id == timer.delivery_id))
            return None
        await uow.execute(
            update(delivery_timers)
            .where(t.delivery_id == timer.delivery_id)
            .values(due_at=now + lease_ms)
        )
        try:
            secret = await open_hook_secret(
                uow,
                event_webhooks.c.sealed_secret,
                secrets_key(settings),
                hook.id,
                hook.sealed_secret,
            )
        except SecretUnreadable:
            secret = ""
        return Claimed(hook.url, secret, bytes(row.payload), row.attempts, row.created_at)


async def _send(
    settings: Settings, delivery_id: str, claimed: Claimed
) -> tuple[int | None, str | None]:
    """(response status, error) of one attempt; never raises for the receiver's faults."""
    if not claimed.secret:
        return None, "The webhook's secret cannot be read on this instance."
    when = datetime.now(tz=UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": "Minibase-Webhooks",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(claimed.secret).sign(delivery_id, when, claimed.payload),
    }
    try:
        result = await fetch(
            "POST",
            claimed.url,
            headers=headers,
            content=claimed.payload,
            timeout=settings.webhook_timeout_seconds,
            max_bytes=RESPONSE_MAX_BYTES,
            allow_private=settings.webhook_allow_private,
        )
    except BlockedAddress as exc:
        return None, f"blocked: {exc}"[:500]
    except ResponseTooLarge:
        return None, "The response was too large."
    except TimeoutError:
        return None, f"No answer within {settings.webhook_timeout_seconds} s."
    except Exception as exc:  # noqa: BLE001 (a receiver's network problem is its outcome)
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= result.status < 300:
        return result.status, None
    return result.status, f"HTTP {result.status}"


async def _record(
    store: Store,
    settings: Settings,
    timer: Timer,
    claimed: Claimed,
    outcome: tuple[int | None, str | None],
) -> None:
    status_code, error = outcome
    now = now_ms()
    attempts = claimed.attempts + 1
    t = delivery_timers.c
    values: dict[str, Any] = {
        "attempts": attempts,
        "response_status": status_code,
        "last_error": error,
        "last_attempt_at": now,
    }
    nxt: int | None = None
    if error is None:
        values.update(status="succeeded", delivered_at=now, next_attempt_at=None)
    else:
        nxt = now + int(backoff_seconds(settings.webhook_retry_base_seconds, attempts) * 1000)
        if nxt > claimed.created_at + int(settings.webhook_retry_hours * 3_600_000):
            values.update(status="failed", next_attempt_at=None)
            nxt = None
        else:
            values.update(next_attempt_at=nxt)
    async with store.tenant(timer.org_id, SYSTEM, write=True) as uow:
        await uow.execute(
            uow.update(event_deliveries)
            .where(
                event_deliveries.c.id == timer.delivery_id, event_deliveries.c.status == "pending"
            )
            .values(**values)
        )
        if nxt is None:
            await uow.execute(delete(delivery_timers).where(t.delivery_id == timer.delivery_id))
        else:
            await uow.execute(
                update(delivery_timers).where(t.delivery_id == timer.delivery_id).values(due_at=nxt)
            )


async def attempt(store: Store, settings: Settings, timer: Timer) -> bool:
    """Try one due delivery (if no one else holds it); whether it was tried."""
    try:
        claimed = await _claim(store, settings, timer, now_ms())
    except NotFound:  # the org is gone
        return False
    if claimed is None:
        return False
    outcome = await _send(settings, timer.delivery_id, claimed)
    await _record(store, settings, timer, claimed, outcome)
    return True


async def deliver_due(
    store: Store,
    settings: Settings,
    *,
    concurrency: int = 8,
    stopping: Callable[[], bool] = lambda: False,
) -> int:
    """Try every due delivery (``concurrency`` at once, none once ``stopping()``); how
    many were tried."""
    async with store.global_(SYSTEM) as uow:
        timers = await due(uow, now=now_ms())
    if not timers:
        return 0
    gate = asyncio.Semaphore(concurrency)

    async def one(timer: Timer) -> bool:
        async with gate:
            return False if stopping() else await attempt(store, settings, timer)

    done: Sequence[bool] = await asyncio.gather(*(one(t) for t in timers))
    return sum(done)
