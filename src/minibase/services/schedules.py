"""Cron schedules of flows: create, list, change, delete, and fire.

A schedule and its timer (``store/schedule_timers.py``) change in one transaction. Firing
(:func:`fire`) happens in a transaction of the schedule's org that locks the timer (one
transaction for all of an org's schedules due at once): it
starts one run for the fire time, with a dedupe key ``schedule:<id>:<fire time>``, and
moves the timer to the first fire time after *now*. So each fire time starts exactly one
run however many schedulers run, and fire times missed while none ran start at most one
catch-up run (for the latest of them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from minibase.domain.events import Event, EventKind
from minibase.domain.principal import SYSTEM
from minibase.engine.cron import CronError, check, next_fire
from minibase.engine.registry import NodeRegistry
from minibase.errors import MinibaseError, NotFound, ValidationFailed
from minibase.ids import new_id, now_ms
from minibase.services import audit, flows, runs
from minibase.services.audit import RequestMeta
from minibase.services.flow_changes import author_id
from minibase.services.pagination import keyset, page
from minibase.store import schedule_timers
from minibase.store.tables import schedules
from minibase.store.unit_of_work import Store, TenantUnitOfWork

log = logging.getLogger("minibase.engine")

FIELDS = ("cron", "timezone", "inputs", "enabled")


def schedule_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "organizationId": row.organization_id,
        "flowId": row.flow_id,
        "cron": row.cron,
        "timezone": row.timezone,
        "inputs": row.inputs,
        "enabled": bool(row.enabled),
        "nextRunAt": row.next_run_at,
        "lastRunAt": row.last_run_at,
        "lastRunId": row.last_run_id,
        "createdBy": row.created_by,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }


def _invalid(field: str, message: str, kind: str = "value_error") -> ValidationFailed:
    return ValidationFailed([{"field": field, "message": message, "type": kind}])


def _clean(body: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise _invalid(unknown[0], "Unknown field.", "extra_forbidden")
    values: dict[str, Any] = {}
    if "cron" in body or not partial:
        cron = body.get("cron")
        if not isinstance(cron, str):
            raise _invalid("cron", "A cron expression (string).", "string_type")
        values["cron"] = cron.strip()
    if "timezone" in body or not partial:
        tz = body.get("timezone", "UTC")
        if not isinstance(tz, str) or not 0 < len(tz) <= 64:
            raise _invalid("timezone", "An IANA time zone name.", "string_type")
        values["timezone"] = tz
    if "inputs" in body or not partial:
        inputs = body.get("inputs") or {}
        if not isinstance(inputs, dict):
            raise _invalid("inputs", "An object.", "dict_type")
        values["inputs"] = inputs
    if "enabled" in body or not partial:
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool):
            raise _invalid("enabled", "true or false.", "bool_type")
        values["enabled"] = enabled
    return values


def _first_fire(cron: str, timezone: str, now: int) -> int:
    try:
        return check(cron, timezone, now_ms=now)
    except CronError as exc:
        raise _invalid(exc.field, str(exc)) from None


async def _load(uow: TenantUnitOfWork, schedule_id: str, flow_id: str | None = None) -> Any:
    stmt = uow.select(schedules).where(schedules.c.id == schedule_id)
    if flow_id is not None:
        stmt = stmt.where(schedules.c.flow_id == flow_id)
    row = (await uow.execute(stmt)).first()
    if row is None:
        raise NotFound("No such schedule.")
    return row


def _emit(uow: TenantUnitOfWork, flow_id: str, schedule_id: str) -> None:
    uow.emit(Event(uow.org_id, EventKind.SCHEDULES, (flow_id, schedule_id)))


async def create_schedule(
    uow: TenantUnitOfWork, flow_id: str, body: Mapping[str, Any], meta: RequestMeta
) -> dict[str, Any]:
    await flows.get_flow_in(uow, flow_id)
    values = _clean(body, partial=False)
    now = now_ms()
    first = _first_fire(values["cron"], values["timezone"], now)
    next_run = first if values["enabled"] else None
    schedule_id = new_id("sch")
    await uow.execute(
        uow.insert(
            schedules,
            id=schedule_id,
            flow_id=flow_id,
            next_run_at=next_run,
            last_run_at=None,
            last_run_id=None,
            created_by=author_id(uow.principal),
            created_at=now,
            updated_at=now,
            **values,
        )
    )
    await schedule_timers.put(uow, schedule_id, uow.org_id, next_run)
    await audit.record(
        uow,
        "schedule.create",
        "schedule",
        schedule_id,
        meta=meta,
        details={"flowId": flow_id, "cron": values["cron"], "timezone": values["timezone"]},
    )
    _emit(uow, flow_id, schedule_id)
    return schedule_json(await _load(uow, schedule_id))


async def list_schedules(
    uow: TenantUnitOfWork, flow_id: str, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    await flows.get_flow_in(uow, flow_id)
    stmt = keyset(
        uow.select(schedules).where(schedules.c.flow_id == flow_id),
        [schedules.c.created_at, schedules.c.id],
        cursor,
        limit,
    )
    rows = (await uow.execute(stmt)).all()
    return page(rows, limit, render=schedule_json, key=lambda r: [r.created_at, r.id])


async def update_schedule(
    uow: TenantUnitOfWork,
    flow_id: str,
    schedule_id: str,
    body: Mapping[str, Any],
    meta: RequestMeta,
) -> dict[str, Any]:
    row = await _load(uow, schedule_id, flow_id)
    values = _clean(body, partial=True)
    now = now_ms()
    cron = values.get("cron", row.cron)
    timezone = values.get("timezone", row.timezone)
    enabled = values.get("enabled", bool(row.enabled))
    first = _first_fire(cron, timezone, now)
    timing_changed = cron != row.cron or timezone != row.timezone or not row.enabled
    next_run = (first if timing_changed else row.next_run_at) if enabled else None
    await uow.execute(
        uow.update(schedules)
        .where(schedules.c.id == schedule_id)
        .values(next_run_at=next_run, updated_at=now, **values)
    )
    await schedule_timers.put(uow, schedule_id, uow.org_id, next_run)
    await audit.record(
        uow,
        "schedule.update",
        "schedule",
        schedule_id,
        meta=meta,
        details={"flowId": flow_id, "fields": sorted(values)},
    )
    _emit(uow, flow_id, schedule_id)
    return schedule_json(await _load(uow, schedule_id))


async def delete_schedule(
    uow: TenantUnitOfWork, flow_id: str, schedule_id: str, meta: RequestMeta
) -> None:
    await _load(uow, schedule_id, flow_id)
    await uow.execute(uow.delete(schedules).where(schedules.c.id == schedule_id))
    await schedule_timers.put(uow, schedule_id, uow.org_id, None)
    await audit.record(
        uow, "schedule.delete", "schedule", schedule_id, meta=meta, details={"flowId": flow_id}
    )
    _emit(uow, flow_id, schedule_id)


async def fire_due(store: Store, registry: NodeRegistry, *, now: int) -> list[str]:
    """Fire every schedule due at ``now``; the ids of the runs this call started.

    The due schedules of one org fire in one transaction of that org (:func:`fire`):
    on PostgreSQL every write transaction of an org queues for its row lock, so twenty
    schedules of one org firing in twenty transactions made the last of them wait for
    the nineteen before it."""
    async with store.global_(SYSTEM) as uow:
        timers = await schedule_timers.due(uow, now=now)
    by_org: dict[str, list[str]] = {}
    for timer in timers:
        by_org.setdefault(timer.org_id, []).append(timer.schedule_id)
    started: list[str] = []
    for org_id, schedule_ids in by_org.items():
        try:
            started += await fire(store, registry, org_id, schedule_ids, now=now)
            continue
        except Exception:
            log.warning("schedules of %s did not fire together", org_id, exc_info=True)
            if len(schedule_ids) == 1:
                continue
        # One schedule's failure must not hold back the others of its org: one by one.
        for schedule_id in schedule_ids:
            try:
                started += await fire(store, registry, org_id, [schedule_id], now=now)
            except Exception:
                log.warning("schedule %s did not fire", schedule_id, exc_info=True)
    return started


async def fire(
    store: Store, registry: NodeRegistry, org_id: str, schedule_ids: list[str], *, now: int
) -> list[str]:
    """Fire due schedules of one org in one transaction (see the module docstring); the
    ids of the runs started."""
    started: list[str] = []
    async with store.tenant(org_id, SYSTEM, write=True) as uow:
        for schedule_id in schedule_ids:
            try:
                run_id = await _fire_one(uow, registry, schedule_id, now=now)
            except CronError as exc:
                # Stored before a check that refuses it now: the timer stops (else it
                # would stay due and be retried on every pass); an update sets it again.
                log.warning("schedule %s stopped: %s", schedule_id, exc)
                await schedule_timers.put(uow, schedule_id, org_id, None)
                continue
            if run_id is not None:
                started.append(run_id)
    return started


async def _fire_one(
    uow: TenantUnitOfWork, registry: NodeRegistry, schedule_id: str, *, now: int
) -> str | None:
    """Fire one due schedule in ``uow``; the run's id, if one started."""
    fire_at = await schedule_timers.lock_due(uow, schedule_id, now=now)
    if fire_at is None:
        return None  # another scheduler fired it, or it moved
    row = (await uow.execute(uow.select(schedules).where(schedules.c.id == schedule_id))).first()
    if row is None or not row.enabled:
        await schedule_timers.put(uow, schedule_id, uow.org_id, None)
        return None
    # Missed fire times (downtime) collapse into this one run: the latest of them.
    latest = fire_at
    upcoming = next_fire(row.cron, row.timezone, fire_at)
    while upcoming <= now:
        latest, upcoming = upcoming, next_fire(row.cron, row.timezone, upcoming)
    run_id: str | None = None
    try:
        run, _ = await runs.start_run(
            uow,
            registry,
            row.flow_id,
            runs.RunRequest(dict(row.inputs or {}), None, None, False, None),
            trigger=runs.Trigger(
                "schedule", id=schedule_id, dedupe_key=f"schedule:{schedule_id}:{latest}"
            ),
        )
        run_id = str(run["id"])
    except MinibaseError as exc:  # the flow cannot run now: the schedule moves on
        log.warning("schedule %s: no run (%s)", schedule_id, exc.message)
    await uow.execute(
        uow.update(schedules)
        .where(schedules.c.id == schedule_id)
        .values(next_run_at=upcoming, last_run_at=latest, last_run_id=run_id)
    )
    await schedule_timers.put(uow, schedule_id, uow.org_id, upcoming)
    _emit(uow, row.flow_id, schedule_id)
    return run_id
