"""One live flow document and the editors connected to it.

A :class:`Room` holds the flow's pycrdt ``Doc`` (through :class:`FlowDoc`) and its
clients, and routes their frames to its parts. Everything runs on the event loop,
without locks:

- :class:`~minibase.collab.broadcast.DurableBroadcast`: what the document integrated is
  appended to the update log, then sent as one frame to every synced client;
- :class:`~minibase.collab.catch_up.CatchUp`: what other instances appended comes in;
- :class:`~minibase.collab.materializer.Materializer`: edits become REST versions;
- :class:`~minibase.collab.compaction.Compactor`: the log is folded into snapshots;
- :class:`~minibase.collab.awareness.AwarenessRelay`: presence, never in the document.

The room itself does the handshake and the edits:

- **Handshake.** On join the server sends sync step 1 and the current awareness states.
  A client joins the document broadcast when the server answers its sync step 1 with
  step 2 (which carries everything integrated so far), so it misses nothing and gets
  nothing before it can integrate it. While an append is in flight, the answer waits
  for it: step 2 never carries an update that is not durable yet.
- **Edits.** An editor's update is integrated at once and queued for the broadcast:
  as it came once the socket's updates follow what the room has, before that (and for
  a sync step 2) as what yrs took from it. The rules (:mod:`minibase.collab.rules`)
  check what was integrated once per batch, before anything reads or stores it
  (:mod:`minibase.collab.checks`); a compensating server transaction is captured and
  queued too, and its author gets a type-100 frame
  ``{"type": "rule_violation", "removed": [{kind, id, reason}], "reason": ...}``.
- **Viewers.** Their document updates are neither integrated nor relayed; the first one
  is answered with permission-denied ``read-only``; the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from minibase.collab import protocol
from minibase.collab.awareness import AwarenessRelay
from minibase.collab.broadcast import DurableBroadcast
from minibase.collab.catch_up import CatchUp
from minibase.collab.checks import PendingChecks
from minibase.collab.client import CLOSE_PROTOCOL_ERROR, Client
from minibase.collab.compaction import Compactor
from minibase.collab.flow_doc import FlowDoc, refused_by_yrs
from minibase.collab.held_updates import HeldUpdates, Order
from minibase.collab.materializer import Materializer
from minibase.collab.options import CollabOptions
from minibase.domain.collab import FlowBridge, Limits
from minibase.domain.flow_json import FlowJSON
from minibase.domain.merge import merge_flows
from minibase.domain.principal import SYSTEM, Principal
from minibase.errors import MinibaseError, ServiceUnavailable
from minibase.store.collab_log import CollabStore

log = logging.getLogger("minibase.collab")

READ_ONLY = "read-only"

ORIGIN_REST = "server:rest"
ORIGIN_SEED = "server:seed"


class Room:
    """A flow's live document and its clients; the parts do the rest."""

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
        snapshot_bytes: int = 0,
        watermark: int = 0,
    ) -> None:
        self.org_id = org_id
        self.flow_id = flow_id
        self.flow = flow_doc
        self.options = options
        self.clients: set[Client] = set()
        self.compactor = Compactor(
            org_id,
            flow_id,
            persistence,
            after_updates=options.compact_after_updates,
            after_bytes=options.compact_after_bytes,
            rows=log_rows,
            size=log_bytes,
            snapshot_bytes=snapshot_bytes,
        )
        self.bridge = bridge
        self.materializer = Materializer(
            org_id,
            flow_id,
            self.materialize,
            bridge,
            options.materialize_delay,
            self.drain,
            self._take_back,
        )
        self.checks = PendingChecks(
            flow_doc,
            lambda client, removals: self.broadcast.notify(client, removals),
            self.materializer.changed,
            lambda update: self.broadcast.queue(update),
        )
        self.broadcast = DurableBroadcast(
            org_id,
            flow_id,
            self.clients,
            persistence,
            self._stored,
            before_batch=self.checks.check,
        )
        self.held: HeldUpdates[Client] = HeldUpdates(
            flow_doc.doc,
            self._integrate_held,
            max_updates=options.max_held_updates,
            max_bytes=options.max_held_bytes,
            max_per_author=options.max_held_per_socket,
        )
        self.catch_up = CatchUp(
            flow_doc,
            self.broadcast,
            persistence,
            options.flow_limits,
            watermark,
            on_changes=self.materializer.caught_up,
            settle=self.checks.check,
            integrated=self.held.release,
        )
        self._limits: dict[Limits, Limits] = {}
        self.awareness = AwarenessRelay(self.clients, options)
        self._tasks: set[asyncio.Task[None]] = set()

    def _stored(self, seq: int, size: int) -> None:
        self.catch_up.stored(seq)
        self.compactor.stored(size)

    @property
    def broken(self) -> bool:
        """An append failed: clients were closed (1011) and writes are refused."""
        return self.broadcast.broken

    def materialize(self) -> FlowJSON:
        """The live flow ``{"name", "nodes", "edges"}``, every integrated edit checked."""
        self.checks.check()
        return self.flow.materialize()

    async def drain(self) -> None:
        """Wait until everything integrated so far is stored and broadcast.

        Raises :class:`ServiceUnavailable` when the room broke (an append failed).
        """
        await self.broadcast.drain()

    # --- edits ------------------------------------------------------------------------

    def apply_client_update(self, client: Client, update: bytes, *, step2: bool = False) -> None:
        """Integrate an editor's update and queue it; the rules check it with its batch.

        Until one of a socket's updates follows what the room has, each is checked first:
        one that is ahead of what it builds on is held back until that arrives
        (:mod:`minibase.collab.held_updates`). ``step2``: the update is a sync step 2,
        which carries the client's whole delete set.
        """
        checked = not client.in_order
        # An in-order editor's update is one transaction of its own: it is stored as it
        # came. A sync step 2, or an update not known to follow, is stored as what yrs
        # took from it (a step 2 repeats every deletion the client knows of).
        whole = not checked and not step2
        if checked:
            try:
                order = self.held.admit(client, update)
            except BaseException as exc:
                raise _bad_update(exc) from exc
            if order is None:
                return  # held until what it builds on arrives
            if order is Order.FOLLOWS:
                client.in_order = True
        if self._integrate(client, update, whole=whole) and len(self.held):
            if checked:
                self.held.release()  # most likely what a held update waits for
            else:
                self.held.release_soon()

    def _integrate(self, client: Client, update: bytes, *, whole: bool) -> bool:
        """Apply ``update`` as ``client``'s edit and queue it (``whole``: as it came, else
        what yrs took from it); anything queued?"""
        author = client.access.principal
        limits = self._limits_of(client)
        self.checks.before(limits)
        before = self.broadcast.queued
        try:
            # No origin: nothing reads it, and an origin to hash and record cost 1.7 µs.
            with self.flow.edits_by(client):
                if whole:
                    self.flow.integrate(update)
                else:
                    with self.flow.capturing(self.broadcast.queue):
                        self.flow.integrate(update)
        except BaseException as exc:
            raise _bad_update(exc) from exc
        if whole:
            self.broadcast.queue(update)
        elif self.broadcast.queued == before:
            return False  # nothing new (a duplicate, or structs yrs keeps for missing ones)
        self.checks.add(client, limits)
        self.broadcast.claim(author)
        self.broadcast.schedule()
        return True

    def _integrate_held(self, client: Client, update: bytes) -> None:
        try:
            self._integrate(client, update, whole=False)
        except protocol.ProtocolError as exc:
            log.info("collab protocol error: %s", exc, extra={"org": self.org_id})
            client.close_soon(CLOSE_PROTOCOL_ERROR, "protocol error")
            self.held.drop(client)

    def _limits_of(self, client: Client) -> Limits:
        """The room's limits tightened by ``client``'s (computed once per distinct pair)."""
        limits = self._limits.get(client.access.limits)
        if limits is None:
            limits = self.options.flow_limits.tighten(client.access.limits)
            self._limits[client.access.limits] = limits
        return limits

    async def apply_flow(self, flow_json: FlowJSON, author: Principal) -> bytes:
        """Apply a REST write as one minimal Yjs transaction; store and broadcast it."""
        if self.broken:
            raise ServiceUnavailable("The live flow document could not be stored.")
        self.checks.check()
        if self.materializer.dirty:
            self.materializer.flush()
        update = self.flow.apply_flow(flow_json, origin=ORIGIN_REST)
        if update:
            self.broadcast.queue(update)
            self.broadcast.claim(author)
            self.broadcast.schedule()
            await self.drain()
        return update

    async def _take_back(self, refused: FlowJSON, author: Principal, error: MinibaseError) -> None:
        """REST refused ``refused``: undo what it holds beyond the REST flow.

        Three ways, like a REST change coming in (base: the refused flow; current: the
        document now; incoming: the REST flow), so later edits of others stay. Runs under
        the materializer's lock; the author's clients get a type-100 ``edit_refused``.
        """
        assert self.bridge is not None
        rest = await self.bridge.load(self.org_id, self.flow_id)
        merged = merge_flows(refused, self.materialize(), rest).flow_doc
        merged.setdefault("name", rest.get("name", ""))
        # The merge takes nodes and edges apart: keep no edge whose node is gone.
        ids = {n.get("id") for n in merged.get("nodes", ()) if isinstance(n, dict)}
        merged["edges"] = [
            e
            for e in merged.get("edges", ())
            if isinstance(e, dict) and e.get("source") in ids and e.get("target") in ids
        ]
        await self.apply_flow(merged, SYSTEM)
        notice = protocol.notification(
            {"type": "edit_refused", "code": error.code, "message": error.message}
        )
        for client in self.clients:
            if client.access.principal == author:
                client.send(notice)

    # --- clients ----------------------------------------------------------------------

    def join(self, client: Client) -> None:
        self.clients.add(client)
        client.send(protocol.sync_step1(self.flow.doc.get_state()))
        self.awareness.join(client)

    def leave(self, client: Client) -> None:
        self.clients.discard(client)
        self.held.drop(client)
        self.awareness.leave(client)

    def receive(self, client: Client, frame: bytes) -> None:
        """Handle one frame from ``client``; a malformed one raises ProtocolError."""
        message = protocol.decode_message(frame)
        match message:
            case protocol.SyncStep1(state_vector):
                try:
                    reply = self.flow.doc.get_update(state_vector)
                except (ValueError, RuntimeError) as exc:
                    raise protocol.ProtocolError("bad state vector") from exc
                if self.broadcast.busy:
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
                self.apply_client_update(client, update, step2=True)
            case protocol.SyncUpdate(update):
                if client.access.read_only:
                    if not client.denied:
                        client.denied = True
                        client.send(protocol.permission_denied(READ_ONLY))
                    return
                self.apply_client_update(client, update)
            case protocol.AwarenessUpdate(update):
                self.awareness.receive(client, update)
            case protocol.QueryAwareness():
                self.awareness.query(client)
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

    # --- lifecycle --------------------------------------------------------------------

    async def close(self) -> None:
        """Store what is pending, hand the last edits to REST, release the document."""
        self.awareness.close()
        if dropped := self.held.close():
            # Their authors' sockets are closing: each client's next sync sends them again.
            log.info("collab: %d held updates dropped", dropped, extra={"org": self.org_id})
        with contextlib.suppress(ServiceUnavailable):
            await self.drain()
        await self.materializer.close(hand_over=not self.broken)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.catch_up.close()
        await self.compactor.close(compact=not self.broken)
        self.flow.close()


def _bad_update(exc: BaseException) -> protocol.ProtocolError:
    """What yrs raised for an update, as the sender's protocol error (that client's bad
    frame, nothing more); anything else is raised again."""
    if not refused_by_yrs(exc):
        raise exc
    return protocol.ProtocolError(f"bad Yjs update ({type(exc).__name__}): {exc}")
