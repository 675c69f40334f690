"""Durable Yjs state of flows: an append-only update log compacted into snapshots.

Every accepted update (a client's, merged per batch, with any compensating server
update) is appended to ``flow_doc_updates`` under the next ``seq`` of its flow, inside a
tenant write transaction, before it is broadcast. A room loads the snapshot (if any) and
the log rows after its ``upto_seq``.

Sequence numbers: the next ``seq`` is ``max(max(log seq), snapshot upto_seq) + 1`` read
in the inserting transaction; the primary key ``(organization_id, flow_id, seq)`` makes a
duplicate impossible. On PostgreSQL the transaction first takes a per-flow advisory
transaction lock (``pg_advisory_xact_lock``), so appenders of one flow on several
instances queue instead of colliding; should two collide anyway, the loser retries with
a fresh read. (On SQLite writes are serialized already.) Yjs updates are idempotent and
commutative, so the order of concurrent appends from different instances does not matter.

Compaction (:meth:`CollabStore.compact`) runs in one write transaction: it reads the
snapshot and the log up to its current maximum ``seq`` N, applies them all to a fresh
``Doc``, writes ``encode_state_as_update`` of it as the new snapshot with ``upto_seq = N``
and deletes the log rows ``seq <= N``. Appends that commit meanwhile get ``seq > N`` and
stay in the log.

Storage: the log and the snapshot count toward the org's ``storageQuota``, as stored
(sealed: each row 33 bytes over its update, docs/security.md). Each append adds its
bytes, and each compaction the difference it made, to ``organizations.storage_used`` and
to the flow's ``history_bytes`` in the same transaction, so purging the flow releases
them (migration ``0007`` counted the rows stored before).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pycrdt import Doc
from sqlalchemy import ColumnElement, bindparam, case, func, text
from sqlalchemy.exc import IntegrityError

from minibase.domain.events import Event, EventKind
from minibase.domain.principal import SYSTEM, Principal
from minibase.ids import new_id, now_ms
from minibase.store.tables import flow_doc_snapshots, flow_doc_updates, flows, organizations
from minibase.store.unit_of_work import (
    Store,
    TenantUnitOfWork,
    prepared,
    scoped_insert,
    scoped_select,
    scoped_update,
)

APPEND_ATTEMPTS = 20


def _next_seq() -> ColumnElement[int]:
    """``max(max(log seq), snapshot upto_seq) + 1`` of flow ``:flow``, as one expression."""
    log_max = (
        scoped_select(flow_doc_updates, func.coalesce(func.max(flow_doc_updates.c.seq), 0))
        .where(flow_doc_updates.c.flow_id == bindparam("flow"))
        .scalar_subquery()
    )
    snap_max = func.coalesce(
        scoped_select(flow_doc_snapshots, flow_doc_snapshots.c.upto_seq)
        .where(flow_doc_snapshots.c.flow_id == bindparam("flow"))
        .scalar_subquery(),
        0,
    )
    return case((log_max > snap_max, log_max), else_=snap_max) + 1


# The next seq is read before the INSERT (not computed inside it) because the update is
# sealed bound to its row, ``flow_id/seq`` (encryption at rest). Writers of one org hold its
# row lock, so nothing can take the seq meanwhile; on PostgreSQL the read rides with the
# per-flow advisory lock, in the round trip that statement took anyway.
_NEXT_SEQ = prepared(
    scoped_select(flows, _next_seq().label("seq")).where(flows.c.id == bindparam("flow"))
)
_LOCK_AND_NEXT_SEQ = prepared(
    scoped_select(
        flows,
        func.pg_advisory_xact_lock(func.hashtextextended(bindparam("key"), 0)).label("locked"),
        _next_seq().label("seq"),
    ).where(flows.c.id == bindparam("flow"))
)
_APPEND = prepared(
    scoped_insert(flow_doc_updates).values(
        flow_id=bindparam("flow"),
        seq=bindparam("seq"),
        update=bindparam("blob"),
        created_at=bindparam("at"),
    )
)
UPDATE = flow_doc_updates.c.update
STATE = flow_doc_snapshots.c.state
_COUNT_FLOW = prepared(
    scoped_update(flows)
    .where(flows.c.id == bindparam("flow_id"))
    .values(history_bytes=flows.c.history_bytes + bindparam("delta"))
)
_COUNT_ORG = prepared(
    scoped_update(organizations).values(
        storage_used=organizations.c.storage_used + bindparam("delta")
    )
)


@dataclass(frozen=True, slots=True)
class StoredDoc:
    """A flow's stored Yjs state: its snapshot and the log rows after it."""

    snapshot: bytes | None
    upto_seq: int
    updates: list[bytes]
    last_seq: int
    snapshot_at: int | None = None
    """When the snapshot was last written (ms): the last compaction, usually an unload."""

    @property
    def empty(self) -> bool:
        return self.snapshot is None and not self.updates

    @property
    def log_bytes(self) -> int:
        return sum(len(u) for u in self.updates)


@dataclass(frozen=True, slots=True)
class Compaction:
    upto_seq: int
    rows: int
    snapshot_bytes: int


class CollabStore:
    """Reads and writes the Yjs update log and snapshots through tenant units of work.

    Each append emits, after commit, ``Event(org, "collab.update", (flow_id,),
    extra={"seq", "instance"})`` so rooms of the same flow on other instances catch up.
    """

    def __init__(self, store: Store, instance_id: str | None = None) -> None:
        self.store = store
        self.instance_id = instance_id or new_id("ins")

    async def load(self, org_id: str, flow_id: str, *, after_seq: int = 0) -> StoredDoc:
        """The snapshot (only if it covers more than ``after_seq``) and log rows after it."""
        async with self.store.tenant(org_id, SYSTEM) as uow:
            sealer = await uow.sealer()
            snap = (
                await uow.execute(
                    uow.select(
                        flow_doc_snapshots,
                        flow_doc_snapshots.c.state,
                        flow_doc_snapshots.c.upto_seq,
                        flow_doc_snapshots.c.updated_at,
                    ).where(
                        flow_doc_snapshots.c.flow_id == flow_id,
                        flow_doc_snapshots.c.upto_seq > after_seq,
                    )
                )
            ).first()
            start = max(after_seq, int(snap.upto_seq) if snap is not None else 0)
            rows = (
                await uow.execute(
                    uow.select(flow_doc_updates, flow_doc_updates.c.seq, flow_doc_updates.c.update)
                    .where(flow_doc_updates.c.flow_id == flow_id, flow_doc_updates.c.seq > start)
                    .order_by(flow_doc_updates.c.seq)
                )
            ).all()
        return StoredDoc(
            snapshot=sealer.open(STATE, flow_id, bytes(snap.state)) if snap is not None else None,
            upto_seq=start,
            updates=[sealer.open(UPDATE, f"{flow_id}/{r.seq}", bytes(r.update)) for r in rows],
            last_seq=int(rows[-1].seq) if rows else start,
            snapshot_at=int(snap.updated_at) if snap is not None else None,
        )

    async def rebase(
        self,
        org_id: str,
        flow_id: str,
        rebase: Callable[[bytes], bytes | None],
        *,
        unchanged_since: int,
    ) -> bool:
        """Replace the snapshot by ``rebase(state)`` (the same content without its
        history, ``collab/rebase.py``) if nothing was appended after it and it was
        written at or before ``unchanged_since`` (ms); ``False`` if not, or if
        ``rebase`` returns ``None``. Under the flow's lock, like an append."""
        async with self.store.tenant(org_id, SYSTEM, write=True) as uow:
            snap = await self._locked_snapshot(uow, flow_id)
            if snap is None or int(snap.updated_at) > unchanged_since:
                return False
            after = (
                await uow.execute(
                    uow.select(flow_doc_updates, flow_doc_updates.c.seq)
                    .where(
                        flow_doc_updates.c.flow_id == flow_id,
                        flow_doc_updates.c.seq > snap.upto_seq,
                    )
                    .limit(1)
                )
            ).first()
            if after is not None:
                return False
            sealer = await uow.sealer()
            rebased = rebase(sealer.open(STATE, flow_id, bytes(snap.state)))
            if rebased is None:
                return False
            sealed = sealer.seal(STATE, flow_id, rebased)
            await uow.execute(
                uow.update(flow_doc_snapshots)
                .where(flow_doc_snapshots.c.flow_id == flow_id)
                .values(state=sealed, size_bytes=len(sealed), updated_at=now_ms())
            )
            await self._count(uow, flow_id, len(sealed) - int(snap.size_bytes))
        return True

    @classmethod
    async def _locked_snapshot(cls, uow: TenantUnitOfWork, flow_id: str) -> Any:
        """The flow's snapshot row (or ``None``), read under the flow's lock."""
        await cls._lock_flow(uow, flow_id)
        query = uow.select(flow_doc_snapshots).where(flow_doc_snapshots.c.flow_id == flow_id)
        return (await uow.execute(query)).first()

    @staticmethod
    async def _lock_flow(uow: TenantUnitOfWork, flow_id: str) -> None:
        if uow.is_postgres:
            await uow.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"minibase.collab:{uow.org_id}:{flow_id}"},
            )

    async def append(self, org_id: str, flow_id: str, update: bytes, principal: Principal) -> int:
        """Append ``update`` durably; return its ``seq``. Retries a lost ``seq`` race."""
        for attempt in range(APPEND_ATTEMPTS):
            try:
                async with self.store.tenant(org_id, principal, write=True) as uow:
                    seq = await self._next_seq(uow, flow_id)
                    blob = (await uow.sealer()).seal(UPDATE, f"{flow_id}/{seq}", update)
                    params = {"flow": flow_id, "seq": seq, "blob": blob, "at": now_ms()}
                    await uow.execute(_APPEND, params)
                    await self._count(uow, flow_id, len(blob))  # the bytes stored
                    uow.emit(
                        Event(
                            org_id,
                            EventKind.COLLAB_UPDATE,
                            (flow_id,),
                            extra={"seq": int(seq), "instance": self.instance_id},
                        )
                    )
                return int(seq)
            except IntegrityError:
                if attempt == APPEND_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    async def _next_seq(uow: TenantUnitOfWork, flow_id: str) -> int:
        """The next ``seq`` of the flow's log (on PostgreSQL, with its advisory lock)."""
        if uow.is_postgres:
            key = f"minibase.collab:{uow.org_id}:{flow_id}"
            row = (await uow.execute(_LOCK_AND_NEXT_SEQ, {"flow": flow_id, "key": key})).first()
        else:
            row = (await uow.execute(_NEXT_SEQ, {"flow": flow_id})).first()
        # No flow row: the INSERT's foreign key refuses it, as before.
        return int(row.seq) if row is not None else 1

    @staticmethod
    async def _count(uow: TenantUnitOfWork, flow_id: str, delta: int) -> None:
        """The log's bytes are storage: the org's ``storage_used`` and the flow's
        ``history_bytes`` (released with the flow when it is purged) follow them."""
        if delta:
            await uow.execute(_COUNT_FLOW, {"flow_id": flow_id, "delta": delta})
            await uow.execute(_COUNT_ORG, {"delta": delta})

    async def compact(self, org_id: str, flow_id: str) -> Compaction | None:
        """Merge the snapshot and the whole current log into a new snapshot."""
        async with self.store.tenant(org_id, SYSTEM, write=True) as uow:
            snap = await self._locked_snapshot(uow, flow_id)
            upto = int(snap.upto_seq) if snap is not None else 0
            rows = (
                await uow.execute(
                    uow.select(flow_doc_updates, flow_doc_updates.c.seq, flow_doc_updates.c.update)
                    .where(flow_doc_updates.c.flow_id == flow_id, flow_doc_updates.c.seq > upto)
                    .order_by(flow_doc_updates.c.seq)
                )
            ).all()
            if not rows:
                return None
            sealer = await uow.sealer()
            old_state = sealer.open(STATE, flow_id, bytes(snap.state)) if snap is not None else None
            updates = [sealer.open(UPDATE, f"{flow_id}/{r.seq}", bytes(r.update)) for r in rows]
            doc: Doc[Any] = Doc()
            if old_state is not None:
                doc.apply_update(old_state)
            for one in updates:
                doc.apply_update(one)
            state = doc.get_update()
            new_upto = int(rows[-1].seq)
            sealed = sealer.seal(STATE, flow_id, state)
            values = {
                "state": sealed,
                "upto_seq": new_upto,
                "size_bytes": len(sealed),  # the bytes stored, as the log's rows count
                "updated_at": now_ms(),
            }
            if snap is None:
                await uow.execute(uow.insert(flow_doc_snapshots, flow_id=flow_id, **values))
            else:
                await uow.execute(
                    uow.update(flow_doc_snapshots)
                    .where(flow_doc_snapshots.c.flow_id == flow_id)
                    .values(**values)
                )
            await uow.execute(
                uow.delete(flow_doc_updates).where(
                    flow_doc_updates.c.flow_id == flow_id, flow_doc_updates.c.seq <= new_upto
                )
            )
            before = (int(snap.size_bytes) if snap is not None else 0) + sum(
                len(row.update) for row in rows
            )
            await self._count(uow, flow_id, len(sealed) - before)
        return Compaction(upto_seq=new_upto, rows=len(rows), snapshot_bytes=len(sealed))
