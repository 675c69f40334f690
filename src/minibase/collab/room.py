"""One live flow document and the editors connected to it.

A :class:`Room` holds the flow's pycrdt ``Doc`` (through :class:`FlowDoc`), its clients and
their awareness states. Everything runs on the event loop, without locks:

- **Handshake.** On join the server sends sync step 1 and the current awareness states.
  A client joins the document broadcast when the server answers its sync step 1 with
  step 2 (which carries everything integrated so far), so it misses nothing and gets
  nothing before it can integrate it. While an append is in flight, the answer waits
  for it: step 2 never carries an update that is not durable yet.
- **Updates.** An editor's update is integrated at once (``Doc.observe`` captures what
  it actually changed), checked by :mod:`minibase.collab.rules` (a compensating server
  transaction is captured the same way) and queued. One flusher task per room merges
  everything queued (``merge_updates``), appends it to the update log and only then
  broadcasts it as ONE frame to every synced client, the author included. Updates
  arriving while the append is in flight form the next batch, so under load batches
  grow and the per-update cost falls (as Hocuspocus does per event-loop turn).
- **Viewers.** Their document updates are neither integrated nor relayed; the first one
  is answered with permission-denied ``read-only``; the socket stays open.
- **Awareness.** Relayed to every client (sender included), coalesced per event-loop
  turn (the newest state per Yjs client id wins). The server remembers which socket
  announced which client ids and broadcasts their removal when the socket leaves or
  the state is not renewed within the timeout.
- **Notifications.** The author of an update that broke a rule gets a type-100 frame
  ``{"type": "rule_violation", "removed": [{kind, id, reason}], "reason": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

from pycrdt import TransactionEvent, merge_updates
from sqlalchemy.exc import SQLAlchemyError

from minibase.collab import protocol
from minibase.collab.flow_doc import Changes, FlowDoc, FlowJSON
from minibase.collab.interfaces import CollabAccess, FlowBridge
from minibase.collab.persistence import CollabStore
from minibase.collab.rules import Limits, Removal, enforce
from minibase.domain.principal import SYSTEM, Principal
from minibase.errors import ServiceUnavailable

log = logging.getLogger("minibase.collab")

READ_ONLY = "read-only"
CLOSE_TOO_SLOW = 1013
CLOSE_SERVER_ERROR = 1011

ORIGIN_RULES = "server:rules"
ORIGIN_REST = "server:rest"
ORIGIN_SEED = "server:seed"
ORIGIN_REMOTE = "server:remote"

_EMPTY_UPDATE = b"\x00\x00"


@dataclass(frozen=True, slots=True)
class CollabOptions:
    """Tuning of the collab rooms (all times in seconds)."""

    unload_delay: float = 5.0
    """How long a room stays loaded after its last client left."""
    materialize_delay: float = 1.0
    """Debounce of ``FlowBridge.on_change`` after accepted updates."""
    compact_after_updates: int = 200
    """Compact the update log once this many rows follow the snapshot ..."""
    compact_after_bytes: int = 256 * 1024
    """... or once they hold this many bytes."""
    awareness_timeout: float = 30.0
    """An awareness state not renewed for this long is removed (stock clients renew every 15 s)."""
    max_queued_frames: int = 4096
    """A client this many frames behind is disconnected (1013) instead of buffering more."""
    flow_limits: Limits = field(default_factory=Limits)
    """Deployment-wide limits of one flow (settings), tightened by each client's own."""


class Transport(Protocol):
    """The socket side of a client (Starlette's ``WebSocket`` fits)."""

    async def send_bytes(self, data: bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Client:
    """One connected socket: its access, its outgoing queue and writer task."""

    _next_id = 0

    def __init__(self, transport: Transport, access: CollabAccess, *, max_queued: int) -> None:
        Client._next_id += 1
        self.id = Client._next_id
        self.transport = transport
        self.access = access
        self.synced = False
        self.denied = False
        self.awareness_ids: set[int] = set()
        self._max_queued = max_queued
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self.closed = False

    @property
    def origin(self) -> str:
        return f"client:{self.id}"

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name=f"collab-writer-{self.id}")

    def send(self, frame: bytes) -> None:
        if self.closed:
            return
        if self._queue.qsize() >= self._max_queued:
            self.close_soon(CLOSE_TOO_SLOW, "client too slow")
            return
        self._queue.put_nowait(frame)

    def close_soon(self, code: int, reason: str) -> None:
        """Stop sending and close the socket (from the writer, after queued frames)."""
        if self.closed:
            return
        self.closed = True
        self._close = (code, reason)
        self._queue.put_nowait(None)

    async def _write(self) -> None:
        try:
            while True:
                frame = await self._queue.get()
                if frame is None:
                    code, reason = getattr(self, "_close", (1000, ""))
                    with contextlib.suppress(RuntimeError, OSError):
                        await self.transport.close(code, reason)
                    return
                await self.transport.send_bytes(frame)
        except (RuntimeError, OSError):
            # The socket went away; the endpoint's receive loop notices and leaves.
            self.closed = True
        except Exception as exc:
            if type(exc).__name__ not in {"WebSocketDisconnect", "ClientDisconnected"}:
                raise
            self.closed = True

    async def stop(self) -> None:
        """Let the writer send what is queued, then end it."""
        if self._writer is None:
            return
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)
            self._close = (1000, "")
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), timeout=5)
            except TimeoutError:
                self._writer.cancel()


@dataclass(slots=True)
class _AwarenessState:
    clock: int
    state: str
    seen: float
    owner: Client | None


class Room:
    """A flow's live document, its clients, and its batched, durable broadcast."""

    def __init__(
        self,
        org_id: str,
        flow_id: str,
        flow_doc: FlowDoc,
        *,
        options: CollabOptions,
        persistence: CollabStore | None,
        bridge: FlowBridge | None,
        log_rows: int = 0,
        log_bytes: int = 0,
        watermark: int = 0,
    ) -> None:
        self.org_id = org_id
        self.flow_id = flow_id
        self.flow = flow_doc
        self.options = options
        self.persistence = persistence
        self.bridge = bridge
        self.clients: set[Client] = set()
        self.broken = False
        self.last_seq = 0
        self._log_rows = log_rows
        self._log_bytes = log_bytes
        self._pending: list[bytes] = []
        self._remote: list[bytes] = []
        self._applying_remote = False
        self._watermark = watermark
        self._catch_up: asyncio.Task[None] | None = None
        self._catch_up_again = False
        self._pending_notes: list[tuple[Client, list[Removal]]] = []
        self._batch_author: Principal | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._compactor: asyncio.Task[None] | None = None
        self._awareness: dict[int, _AwarenessState] = {}
        self._awareness_out: dict[int, protocol.AwarenessEntry] = {}
        self._awareness_flush_scheduled = False
        self._awareness_task: asyncio.Task[None] | None = None
        self._change_author: Principal | None = None
        self._change_timer: asyncio.TimerHandle | None = None
        self._bridge_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.rest_generation = 0
        """Raised each time REST changes are applied (under :attr:`bridge_lock`)."""
        self._subscription = self.flow.doc.observe(self._on_transaction)

    # --- document -------------------------------------------------------------------

    def _on_transaction(self, event: TransactionEvent) -> None:
        update: bytes = event.update
        if update and update != _EMPTY_UPDATE:
            (self._remote if self._applying_remote else self._pending).append(update)

    def _schedule_flush(self) -> None:
        if (self._pending or self._remote) and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.create_task(self._flush(), name="collab-flush")

    async def _flush(self) -> None:
        while (self._pending or self._remote) and not self.broken:
            batch, self._pending = self._pending, []
            remote, self._remote = self._remote, []
            notes, self._pending_notes = self._pending_notes, []
            author, self._batch_author = self._batch_author, None
            update = b""
            if batch:
                update = batch[0] if len(batch) == 1 else merge_updates(*batch)
            if batch and self.persistence is not None:
                try:
                    self.last_seq = await self.persistence.append(
                        self.org_id, self.flow_id, update, author or SYSTEM
                    )
                except (SQLAlchemyError, OSError):
                    log.exception(
                        "collab update could not be stored; closing the room",
                        extra={"org": self.org_id, "flow": self.flow_id},
                    )
                    self._break()
                    return
                if self.last_seq == self._watermark + 1:
                    self._watermark = self.last_seq
                self._log_rows += 1
                self._log_bytes += len(update)
            # Updates another instance stored go out with ours, unstored again.
            out = [update] if update else []
            out += remote
            frame = protocol.sync_update(out[0] if len(out) == 1 else merge_updates(*out))
            for client in self.clients:
                if client.synced:
                    client.send(frame)
            for client, removals in notes:
                client.send(protocol.notification(rule_violation(removals)))
            self._maybe_compact()

    async def drain(self) -> None:
        """Wait until everything integrated so far is stored and broadcast.

        Raises :class:`ServiceUnavailable` when the room broke (an append failed).
        """
        while not self.broken and (
            self._pending
            or self._remote
            or (self._flusher is not None and not self._flusher.done())
        ):
            self._schedule_flush()
            if self._flusher is not None:
                await asyncio.shield(self._flusher)
        if self.broken:
            raise ServiceUnavailable("The live flow document could not be stored.")

    def _break(self) -> None:
        self.broken = True
        self._pending.clear()
        self._remote.clear()
        for client in self.clients:
            client.close_soon(CLOSE_SERVER_ERROR, "storage failure")

    def apply_client_update(self, client: Client, update: bytes) -> None:
        """Integrate an editor's update, enforce the rules, and queue the result."""
        author = client.access.principal
        if self._change_author is not None and self._change_author != author:
            self._materialize_now()
        before = len(self._pending)
        try:
            with self.flow.doc.transaction(origin=client.origin):
                self.flow.doc.apply_update(update)
        except (ValueError, RuntimeError) as exc:  # yrs reports some bad blocks as RuntimeError
            raise protocol.ProtocolError(f"bad Yjs update: {exc}") from exc
        except BaseException as exc:
            # Some malformed blocks make yrs panic while committing; pyo3 raises that as a
            # PanicException, a BaseException. It is that client's bad frame, nothing more.
            if type(exc).__name__ != "PanicException":
                raise
            raise protocol.ProtocolError("bad Yjs update (rejected by yrs)") from exc
        if len(self._pending) == before:
            return  # nothing new (a duplicate, or structs waiting for missing ones)
        changes = self.flow.refresh()
        limits = self.options.flow_limits.tighten(client.access.limits)
        removals = enforce(self.flow, changes, limits, origin=ORIGIN_RULES)
        if removals:
            self._pending_notes.append((client, removals))
            changes.merge(self.flow.refresh())
        if self._batch_author is None:
            self._batch_author = author
        self._note_change(author, changes)
        self._schedule_flush()

    async def apply_flow(self, flow_json: FlowJSON, author: Principal) -> bytes:
        """Apply a REST write as one minimal Yjs transaction; store and broadcast it."""
        if self.broken:
            raise ServiceUnavailable("The live flow document could not be stored.")
        if self._change_author is not None:
            self._materialize_now()
        update = self.flow.apply_flow(flow_json, origin=ORIGIN_REST)
        if update:
            if self._batch_author is None:
                self._batch_author = author
            self._schedule_flush()
            await self.drain()
        return update

    # --- other instances ----------------------------------------------------------------

    def request_catch_up(self) -> None:
        """Another instance stored updates of this flow: read and integrate them (coalesced)."""
        if self._catch_up is not None and not self._catch_up.done():
            self._catch_up_again = True
            return
        self._catch_up = asyncio.create_task(self._catch_up_loop(), name="collab-catch-up")

    async def _catch_up_loop(self) -> None:
        self._catch_up_again = True
        while self._catch_up_again and not self.broken:
            self._catch_up_again = False
            try:
                await self.catch_up()
            except (SQLAlchemyError, OSError):
                log.exception("collab catch-up failed", extra={"org": self.org_id})
                return

    async def catch_up(self) -> None:
        """Integrate what the log holds beyond this room's watermark and broadcast it.

        Those updates are durable already (another instance appended them), so they are
        broadcast without being appended again. The rules run on what they changed (an
        edge added on one instance to a node deleted on another is only visible here).
        """
        if self.persistence is None:
            return
        stored = await self.persistence.load(self.org_id, self.flow_id, after_seq=self._watermark)
        if stored.empty:
            return
        self._applying_remote = True
        try:
            with self.flow.doc.transaction(origin=ORIGIN_REMOTE):
                if stored.snapshot is not None:
                    self.flow.doc.apply_update(stored.snapshot)
                for update in stored.updates:
                    self.flow.doc.apply_update(update)
        finally:
            self._applying_remote = False
        self._watermark = max(self._watermark, stored.last_seq)
        changes = self.flow.refresh()
        if changes:
            enforce(self.flow, changes, self.options.flow_limits, origin=ORIGIN_RULES)
            self.flow.refresh()
        self._schedule_flush()

    # --- materialization into REST ----------------------------------------------------

    def _note_change(self, author: Principal, changes: Changes) -> None:
        if not changes or self.bridge is None:
            return
        self._change_author = author
        if self._change_timer is None:
            loop = asyncio.get_running_loop()
            self._change_timer = loop.call_later(
                self.options.materialize_delay, self._materialize_now
            )

    def _materialize_now(self) -> None:
        if self._change_timer is not None:
            self._change_timer.cancel()
            self._change_timer = None
        author, self._change_author = self._change_author, None
        if author is None or self.bridge is None:
            return
        # The snapshot is this author's edits so far; see _call_bridge for REST changes.
        task = asyncio.create_task(
            self._call_bridge(self._snapshot(), self.rest_generation, author)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def bridge_lock(self) -> asyncio.Lock:
        """Held while the document is handed to the REST flow, or REST changes come in.

        Both directions take it, so a materialization never carries a document read
        before a REST change was applied into it (that would revert the REST change).
        """
        return self._bridge_lock

    def _snapshot(self) -> FlowJSON:
        flow_json = self.flow.materialize()
        return {**flow_json, "nodes": list(flow_json["nodes"]), "edges": list(flow_json["edges"])}

    async def _call_bridge(self, snapshot: FlowJSON, generation: int, author: Principal) -> None:
        assert self.bridge is not None
        async with self._bridge_lock:
            # Only after the updates it reflects are durable.
            try:
                await self.drain()
            except ServiceUnavailable:
                return
            if generation != self.rest_generation:
                # REST changes came in after the snapshot: handing it over would revert
                # them, so hand over the document as it is now (it includes them).
                snapshot = self._snapshot()
            try:
                await self.bridge.on_change(self.org_id, self.flow_id, snapshot, author)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "materializing a collab flow failed",
                    extra={"org": self.org_id, "flow": self.flow_id},
                )

    # --- compaction -------------------------------------------------------------------

    def _maybe_compact(self) -> None:
        if self.persistence is None or (self._compactor is not None and not self._compactor.done()):
            return
        if (
            self._log_rows >= self.options.compact_after_updates
            or self._log_bytes >= self.options.compact_after_bytes
        ):
            self._compactor = asyncio.create_task(self.compact(), name="collab-compact")

    async def compact(self) -> None:
        if self.persistence is None:
            return
        self._log_rows = 0
        self._log_bytes = 0
        try:
            await self.persistence.compact(self.org_id, self.flow_id)
        except (SQLAlchemyError, OSError):
            log.exception("collab compaction failed", extra={"org": self.org_id})

    # --- clients ----------------------------------------------------------------------

    def join(self, client: Client) -> None:
        self.clients.add(client)
        client.send(protocol.sync_step1(self.flow.doc.get_state()))
        if self._awareness:
            client.send(protocol.awareness_message(self._encode_awareness(self._awareness)))
        if self._awareness_task is None:
            self._awareness_task = asyncio.create_task(self._expire_awareness())

    def leave(self, client: Client) -> None:
        self.clients.discard(client)
        gone = [cid for cid, st in self._awareness.items() if st.owner is client]
        self._remove_awareness(gone)
        if not self.clients and self._awareness_task is not None:
            self._awareness_task.cancel()
            self._awareness_task = None

    def receive(self, client: Client, frame: bytes) -> None:
        """Handle one frame from ``client``; a malformed one raises ProtocolError."""
        message = protocol.decode_message(frame)
        match message:
            case protocol.SyncStep1(state_vector):
                try:
                    reply = self.flow.doc.get_update(state_vector)
                except (ValueError, RuntimeError) as exc:
                    raise protocol.ProtocolError("bad state vector") from exc
                if self._pending or (self._flusher is not None and not self._flusher.done()):
                    # Step 2 must not carry updates that are not durable yet.
                    task = asyncio.create_task(self._answer_step1(client, state_vector))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                else:
                    client.send(protocol.sync_step2(reply))
                    client.synced = True
            case protocol.SyncStep2(update):
                if client.access.read_only:
                    return  # a viewer's reply to our step 1: not applied, not an edit
                self.apply_client_update(client, update)
            case protocol.SyncUpdate(update):
                if client.access.read_only:
                    if not client.denied:
                        client.denied = True
                        client.send(protocol.permission_denied(READ_ONLY))
                    return
                self.apply_client_update(client, update)
            case protocol.AwarenessUpdate(update):
                self._receive_awareness(client, update)
            case protocol.QueryAwareness():
                client.send(protocol.awareness_message(self._encode_awareness(self._awareness)))
            case protocol.PermissionDenied() | protocol.Notification():
                pass

    async def _answer_step1(self, client: Client, state_vector: bytes) -> None:
        try:
            await self.drain()
        except ServiceUnavailable:
            return
        if self.broken or client not in self.clients:
            return
        # No await between the drain and joining the broadcast: nothing falls in between.
        client.send(protocol.sync_step2(self.flow.doc.get_update(state_vector)))
        client.synced = True

    # --- awareness --------------------------------------------------------------------

    def _receive_awareness(self, client: Client, update: bytes) -> None:
        now = time.monotonic()
        for entry in protocol.decode_awareness_update(update):
            current = self._awareness.get(entry.client_id)
            if current is not None and entry.clock < current.clock:
                continue
            if entry.removed:
                if current is not None:
                    del self._awareness[entry.client_id]
                client.awareness_ids.discard(entry.client_id)
            else:
                self._awareness[entry.client_id] = _AwarenessState(
                    entry.clock, entry.state, now, client
                )
                client.awareness_ids.add(entry.client_id)
            self._awareness_out[entry.client_id] = entry
        self._schedule_awareness_flush()

    def _remove_awareness(self, client_ids: list[int]) -> None:
        for cid in client_ids:
            state = self._awareness.pop(cid, None)
            if state is not None:
                self._awareness_out[cid] = protocol.AwarenessEntry(cid, state.clock + 1, "null")
        if client_ids:
            self._schedule_awareness_flush()

    def _schedule_awareness_flush(self) -> None:
        if not self._awareness_flush_scheduled and self._awareness_out:
            self._awareness_flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_awareness)

    def _flush_awareness(self) -> None:
        self._awareness_flush_scheduled = False
        entries, self._awareness_out = list(self._awareness_out.values()), {}
        if not entries:
            return
        frame = protocol.awareness_message(protocol.encode_awareness_update(entries))
        for client in self.clients:
            client.send(frame)

    @staticmethod
    def _encode_awareness(states: dict[int, _AwarenessState]) -> bytes:
        return protocol.encode_awareness_update(
            [protocol.AwarenessEntry(cid, st.clock, st.state) for cid, st in states.items()]
        )

    async def _expire_awareness(self) -> None:
        timeout = self.options.awareness_timeout
        while True:
            await asyncio.sleep(timeout / 10)
            limit = time.monotonic() - timeout
            self._remove_awareness([c for c, st in self._awareness.items() if st.seen < limit])

    # --- lifecycle --------------------------------------------------------------------

    async def close(self) -> None:
        """Store what is pending, hand the last edits to REST, release the document."""
        if self._awareness_task is not None:
            self._awareness_task.cancel()
            self._awareness_task = None
        with contextlib.suppress(ServiceUnavailable):
            await self.drain()
        if self._change_author is not None and not self.broken:
            self._materialize_now()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._catch_up is not None:
            self._catch_up.cancel()
            await asyncio.gather(self._catch_up, return_exceptions=True)
        if self._compactor is not None:
            await asyncio.gather(self._compactor, return_exceptions=True)
        if self._log_rows and not self.broken:
            await self.compact()
        self.flow.doc.unobserve(self._subscription)
        self.flow.close()


def rule_violation(removals: list[Removal]) -> dict[str, object]:
    """The type-100 notification sent to the author of an update that broke a rule."""
    reasons = sorted({r.reason for r in removals})
    return {
        "type": "rule_violation",
        "removed": [r.to_json() for r in removals],
        "reason": ", ".join(reasons),
    }
