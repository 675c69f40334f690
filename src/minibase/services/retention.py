"""Retention per organization: ``settings.retention: {outputsDays, runsDays, versionsDays}``.

A periodic job (every ``MINIBASE_RETENTION_INTERVAL_SECONDS``) visits the orgs that have
a policy (the global ``retention_policies`` table, kept equal to their settings) and, in
one write transaction per org:

- deletes node outputs older than ``outputsDays`` (by their timestamp);
- deletes finished runs created more than ``runsDays`` ago (their node states with them);
- deletes flow versions older than ``versionsDays``, never a flow's current version: the
  oldest version kept is rewritten as a full snapshot first when it was stored as a delta,
  so every kept version still reads back exactly;
- gives the freed bytes back to the org's storage usage, and records one
  ``retention.apply`` audit event with the counts.

``null`` (or no policy) keeps that kind forever. Running the job twice, or on several
instances at once, deletes nothing twice: each org's pass holds its write lock.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from minibase.domain.history import encode
from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.services import audit
from minibase.services.flow_history import document_at
from minibase.services.usage import add_to_counters
from minibase.store.tables import flow_versions, flows, node_outputs, retention_policies, runs
from minibase.store.unit_of_work import Store, TenantUnitOfWork

log = logging.getLogger("minibase.retention")

DAY_MS = 86_400_000
POLICY = (
    ("outputsDays", "outputs_days"),
    ("runsDays", "runs_days"),
    ("versionsDays", "versions_days"),
)


async def record_policy(uow: TenantUnitOfWork, retention: dict[str, Any] | None) -> None:
    """Keep ``retention_policies`` equal to the org's ``settings.retention`` (same
    transaction as the settings change)."""
    rp = retention_policies.c
    await uow.execute(delete(retention_policies).where(rp.owner_org == uow.org_id))
    values = {column: (retention or {}).get(key) for key, column in POLICY}
    if any(values.values()):
        await uow.execute(
            insert(retention_policies).values(owner_org=uow.org_id, updated_at=now_ms(), **values)
        )


async def _outputs(uow: TenantUnitOfWork, cutoff: int) -> tuple[int, int]:
    o = node_outputs.c
    old = uow.select(node_outputs, func.count(), func.coalesce(func.sum(o.size_bytes), 0)).where(
        o.timestamp < cutoff
    )
    row: Any = (await uow.execute(old)).one()
    count, size = row[0], row[1]
    if count:
        await uow.execute(uow.delete(node_outputs).where(o.timestamp < cutoff))
    return int(count), int(size)


async def _runs(uow: TenantUnitOfWork, cutoff: int) -> int:
    r = runs.c
    done = (r.created_at < cutoff) & r.finished_at.is_not(None)
    (count,) = (await uow.execute(uow.select(runs, func.count()).where(done))).one()
    if count:
        await uow.execute(uow.delete(runs).where(done))
    return int(count)


async def _versions(uow: TenantUnitOfWork, cutoff: int) -> tuple[int, int]:
    """Delete versions created before ``cutoff`` but each flow's current one."""
    v = flow_versions.c
    candidates = (
        await uow.execute(
            uow.select(flow_versions, v.flow_id, func.max(v.version))
            .join(flows, (flows.c.organization_id == v.organization_id) & (flows.c.id == v.flow_id))
            .where(v.created_at < cutoff, v.version < flows.c.version)
            .group_by(v.flow_id)
        )
    ).all()
    deleted = freed = 0
    candidate: Any
    for candidate in candidates:
        flow_id, newest_old = candidate[0], candidate[1]
        keep_from = newest_old + 1  # the oldest version that stays
        first_kept = (
            await uow.execute(
                uow.select(flow_versions).where(v.flow_id == flow_id, v.version == keep_from)
            )
        ).one()
        grown = 0
        if first_kept.kind != "snapshot":
            doc = await document_at(uow, flow_id, keep_from)
            snapshot = encode(None, doc, keep_from)
            grown = len(snapshot.payload) - first_kept.size_bytes
            await uow.execute(
                uow.update(flow_versions)
                .where(v.flow_id == flow_id, v.version == keep_from)
                .values(
                    kind=snapshot.kind,
                    payload=(await uow.sealer()).seal(
                        v.payload, f"{flow_id}/{keep_from}", snapshot.payload
                    ),
                    size_bytes=len(snapshot.payload),
                )
            )
        gone = uow.select(flow_versions, func.count(), func.coalesce(func.sum(v.size_bytes), 0))
        row: Any = (
            await uow.execute(gone.where(v.flow_id == flow_id, v.version < keep_from))
        ).one()
        count, size = row[0], row[1]
        await uow.execute(
            uow.delete(flow_versions).where(v.flow_id == flow_id, v.version < keep_from)
        )
        net = int(size) - grown
        await uow.execute(
            uow.update(flows)
            .where(flows.c.id == flow_id)
            .values(history_bytes=flows.c.history_bytes - net)
        )
        deleted += int(count)
        freed += net
    return deleted, freed


async def apply_org(store: Store, policy: Any, now: int) -> dict[str, int]:
    """One org's pass; the counts of what went."""
    counts: dict[str, int] = {}
    async with store.tenant(policy.owner_org, SYSTEM, write=True) as uow:
        freed = 0
        if policy.outputs_days:
            counts["outputs"], size = await _outputs(uow, now - policy.outputs_days * DAY_MS)
            freed += size
        if policy.runs_days:
            counts["runs"] = await _runs(uow, now - policy.runs_days * DAY_MS)
        if policy.versions_days:
            counts["versions"], size = await _versions(uow, now - policy.versions_days * DAY_MS)
            freed += size
        if freed:
            await add_to_counters(uow, storage=-freed)
        if any(counts.values()):
            await audit.record(
                uow,
                "retention.apply",
                "organization",
                uow.org_id,
                details={**counts, "freedBytes": freed},
            )
        await uow.execute(
            update(retention_policies)
            .where(retention_policies.c.owner_org == uow.org_id)
            .values(applied_at=now)
        )
    return counts


async def apply_all(store: Store, now: int | None = None) -> dict[str, dict[str, int]]:
    """Apply every org's policy; ``{orgId: counts}``."""
    now = now_ms() if now is None else now
    async with store.global_(SYSTEM) as uow:
        policies = (await uow.execute(select(retention_policies))).all()
    return {p.owner_org: await apply_org(store, p, now) for p in policies}


async def run_forever(store: Store, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            done = await apply_all(store)
        except Exception:
            log.exception("retention pass failed")
            continue
        removed = {org: c for org, c in done.items() if any(c.values())}
        if removed:
            log.info("retention applied", extra={"organizations": len(removed)})
