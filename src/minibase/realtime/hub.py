"""The live-query hub: subscriptions that re-run when a committed event touches them.

* One computation per ``(query, args)`` serves every subscriber of it; a value is pushed
  to a subscriber only when its bytes differ from what that subscriber last received.
* Events only mark queries dirty; a single worker re-runs dirty queries in order, so a
  burst of changes coalesces and the last value always arrives, in version order.
* Authorization is live: membership events re-check every affected subscription, a
  credentials event closes the sockets of a revoked token (4401), and a periodic sweep
  re-validates every token as a backstop for events lost while the bus was down.
* Each socket has an outbox drained by its own sender task, bounded in frames and bytes
  per socket and per user, keeping only the latest value per subscription
  (:mod:`minibase.realtime.outbox`): a slow client never slows the others, never makes
  the server hold more than those bounds, and is closed with 4008 when it would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketState

from minibase.auth.credentials import authenticate
from minibase.config import Settings
from minibase.domain.events import Event, EventBus, EventKind
from minibase.domain.principal import Principal
from minibase.domain.roles import Role, is_allowed
from minibase.errors import Forbidden, MinibaseError, NotFound, Unauthenticated
from minibase.realtime.outbox import Outbox, Overflow, UserBudget
from minibase.services.live_queries import USER_ARG, QuerySpec, QueryValue, run_query
from minibase.services.orgs import role_in
from minibase.sockets.direct_frames import DirectWriter, writer_of
from minibase.store.unit_of_work import Store

log = logging.getLogger("minibase.sync")

CLOSE_GOING_AWAY = 1001
CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_SLOW = 4008
CLOSE_TOO_MANY = 4029
CLOSE_TIMEOUT = 5.0
"""How long a close frame may wait for a socket that does not take it (a dead reader)."""

QueryKey = tuple[str, tuple[tuple[str, str], ...]]


def query_key(spec: QuerySpec, args: dict[str, str]) -> QueryKey:
    return spec.name, tuple(sorted(args.items()))


@dataclass(eq=False, slots=True)
class Subscription:
    id: str
    spec: QuerySpec
    args: dict[str, str]
    key: QueryKey
    connection: Connection
    last_body: bytes | None = None
    seq: int = 0

    @property
    def org_id(self) -> str:
        """The org of the query ("" for a user-scoped one)."""
        return self.args.get("orgId", "")


@dataclass(eq=False, slots=True)
class Connection:
    """One ``/v1/sync`` socket."""

    websocket: WebSocket
    principal: Principal
    token: str
    outbox: Outbox
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    closed: bool = False
    close_code: int = CLOSE_GOING_AWAY
    close_reason: str = ""
    sender: asyncio.Task[None] | None = None
    sending: bool = False
    """The sender is inside a send (it waits there only while the peer does not read)."""
    closer: asyncio.Task[None] | None = None
    direct: DirectWriter | None = None
    """Writes a frame at once when nothing waits before it (``sockets.direct_frames``)."""

    def send(self, message: dict[str, Any] | str, key: str | None = None) -> None:
        """Queue a frame (``key``: the subscription whose latest value it is); a client too
        far behind is disconnected instead."""
        if self.closed:
            return
        text = message if isinstance(message, str) else orjson.dumps(message).decode()
        if (
            not self.sending
            and not self.outbox
            and self.direct is not None
            and self.direct.write(text)
        ):
            return
        try:
            self.outbox.put(text, key)
        except Overflow:
            log.warning(
                "sync client too slow; disconnecting", extra={"principal": self.principal.id}
            )
            self.close(CLOSE_TOO_SLOW, "too far behind")

    def close(self, code: int, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        # Drop what is queued (its memory goes at once): the close must not wait behind it.
        self.outbox.end()
        self.close_code, self.close_reason = code, reason
        if self.sending and self.sender is not None:
            # A send only waits while the socket's buffers are full (the peer does not
            # read), before writing anything: stop it, so the close is not stuck behind it.
            self.sender.cancel()
            self.closer = asyncio.create_task(self._close_socket(), name="sync-close")

    async def run_sender(self) -> None:
        ws = self.websocket
        try:
            while True:
                text = await self.outbox.get()
                if text is None:
                    break
                self.sending = True
                await ws.send_text(text)
                self.sending = False
        except (OSError, RuntimeError):
            self.closed = True
            return
        await self._close_socket()

    async def _close_socket(self) -> None:
        ws = self.websocket
        if ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(OSError, RuntimeError, TimeoutError):
                await asyncio.wait_for(ws.close(self.close_code, self.close_reason), CLOSE_TIMEOUT)


def result_frame(
    sub: Subscription,
    value: QueryValue,
    body_text: str | None = None,
    frames: dict[tuple[str, int], str] | None = None,
) -> str:
    """``{"type":"result","id":...,"value":<body>,"version":N}`` spliced as text.

    ``body_text`` is the value decoded once per refresh, shared by every subscriber;
    ``frames`` caches the frame per ``(subscription id, version)`` for one refresh, so
    the subscribers of one value that chose the same id (every client of one app does)
    share ONE frame: built once, and one string in all their outboxes.
    """
    sub.seq += 1
    version = value.version if value.version is not None else sub.seq
    if frames is not None:
        frame = frames.get((sub.id, version))
        if frame is not None:
            return frame
    text = body_text if body_text is not None else value.body.decode()
    frame = (
        '{"type":"result","id":'
        + orjson.dumps(sub.id).decode()
        + ',"value":'
        + text
        + ',"version":'
        + str(version)
        + "}"
    )
    if frames is not None:
        frames[(sub.id, version)] = frame
    return frame


def error_frame(sub_id: str | None, error: MinibaseError) -> dict[str, Any]:
    return {"type": "error", "id": sub_id, "error": {"code": error.code, "message": error.message}}


class LiveQueryHub:
    """Every live subscription of this instance, kept up to date from the bus."""

    def __init__(self, store: Store, settings: Settings, bus: EventBus) -> None:
        self.store = store
        self.settings = settings
        self.bus = bus
        self.connections: set[Connection] = set()
        self.queued = UserBudget(settings.sync_user_queue_bytes)
        """Bytes waiting in the outboxes of each user's sockets (see ``outbox.py``)."""
        self._by_key: dict[QueryKey, set[Subscription]] = defaultdict(set)
        self._dirty: dict[QueryKey, None] = {}
        self._reauth_orgs: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Any = None

    async def start(self) -> None:
        self._unsubscribe = self.bus.subscribe(self._on_event)
        self._tasks = [
            asyncio.create_task(self._worker(), name="live-query-worker"),
            asyncio.create_task(self._sweeper(), name="live-query-sweeper"),
        ]

    async def close(self) -> None:
        """Close every socket with "going away" so clients reconnect elsewhere."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        for conn in list(self.connections):
            conn.close(CLOSE_GOING_AWAY, "server shutting down")
        senders = [
            task
            for c in self.connections
            for task in (c.sender, c.closer)
            if task is not None and not task.done()
        ]
        if senders:
            await asyncio.wait(senders, timeout=5)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- connections -------------------------------------------------------------------

    def connect(self, websocket: WebSocket, principal: Principal, token: str) -> Connection:
        mine = sum(1 for c in self.connections if c.principal.id == principal.id)
        outbox = Outbox(
            principal.id,
            self.queued,
            max_frames=self.settings.sync_queue_limit,
            max_bytes=self.settings.sync_queue_bytes,
        )
        conn = Connection(websocket, principal, token, outbox, direct=writer_of(websocket.scope))
        conn.sender = asyncio.create_task(conn.run_sender(), name="sync-sender")
        self.connections.add(conn)
        if mine >= self.settings.sync_max_sockets_per_user:
            conn.close(CLOSE_TOO_MANY, "too many sockets for this user")
        return conn

    def disconnect(self, conn: Connection) -> None:
        conn.close(CLOSE_GOING_AWAY)
        self.connections.discard(conn)
        for sub in list(conn.subscriptions.values()):
            self._drop(sub)

    async def subscribe(
        self, conn: Connection, sub_id: str, spec: QuerySpec, args: dict[str, str]
    ) -> None:
        if sub_id in conn.subscriptions:
            self._drop(conn.subscriptions.pop(sub_id))
        if len(conn.subscriptions) >= self.settings.sync_max_subscriptions:
            raise Forbidden(
                f"At most {self.settings.sync_max_subscriptions} subscriptions per socket."
            )
        if spec.user_scoped:
            if conn.principal.user_id is None:
                raise Forbidden("This query needs a user's session token, not an API key.")
            args = {**args, USER_ARG: conn.principal.user_id}
        else:
            await self._authorize(conn.principal, spec, args["orgId"])
        value = await run_query(self.store, spec, args)
        sub = Subscription(sub_id, spec, args, query_key(spec, args), conn)
        sub.last_body = value.body
        conn.subscriptions[sub_id] = sub
        self._by_key[sub.key].add(sub)
        conn.send(result_frame(sub, value), key=sub_id)

    def unsubscribe(self, conn: Connection, sub_id: str) -> None:
        sub = conn.subscriptions.pop(sub_id, None)
        if sub is not None:
            self._drop(sub)

    def _drop(self, sub: Subscription) -> None:
        subs = self._by_key.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_key[sub.key]

    async def _authorize(self, principal: Principal, spec: QuerySpec, org_id: str) -> Role:
        role = await role_in(self.store, org_id, principal)
        if not is_allowed(role, spec.action):
            raise Forbidden(f"The {role.value} role may not {spec.action.value}.")
        return role

    # --- events ------------------------------------------------------------------------

    async def _on_event(self, event: Event) -> None:
        if event.kind == EventKind.RESYNC:
            for key in self._by_key:
                self._dirty[key] = None
            self._reauth_orgs.add("*")
        elif event.kind == EventKind.CREDENTIALS:
            revoked = set(event.ids)
            for conn in list(self.connections):
                if conn.principal.credential_id in revoked:
                    conn.close(CLOSE_UNAUTHENTICATED, "token revoked")
        else:
            if event.kind in (EventKind.MEMBERS, EventKind.ORG):
                self._reauth_orgs.add(event.org_id)
            for key, subs in self._by_key.items():
                sample = next(iter(subs), None)
                if (
                    sample is not None
                    and (sample.spec.user_scoped or sample.org_id == event.org_id)
                    and sample.spec.touched_by(event, sample.args)
                ):
                    self._dirty[key] = None
        self._wake.set()

    async def _worker(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._reauth_orgs:
                orgs, self._reauth_orgs = self._reauth_orgs, set()
                await self._reauthorize(orgs)
            while self._dirty:
                key = next(iter(self._dirty))
                del self._dirty[key]
                await self._refresh(key)

    async def _refresh(self, key: QueryKey) -> None:
        subs = self._by_key.get(key)
        if not subs:
            return
        sample = next(iter(subs))
        try:
            value = await run_query(self.store, sample.spec, sample.args)
        except MinibaseError as error:
            frame = error_frame(None, error)
            for sub in list(subs):
                if sub.last_body != b"error:" + error.code.encode():
                    sub.last_body = b"error:" + error.code.encode()
                    sub.connection.send({**frame, "id": sub.id}, key=sub.id)
            return
        text = value.body.decode()
        frames: dict[tuple[str, int], str] = {}
        body = value.body
        for sub in list(subs):
            if sub.last_body != body:
                sub.last_body = body
                sub.connection.send(result_frame(sub, value, text, frames), key=sub.id)

    async def _reauthorize(self, orgs: set[str]) -> None:
        """Drop subscriptions whose caller lost the role they need (within a second)."""
        everything = "*" in orgs
        for conn in list(self.connections):
            roles: dict[str, Role | MinibaseError] = {}
            for sub in list(conn.subscriptions.values()):
                if sub.spec.user_scoped or (not everything and sub.org_id not in orgs):
                    continue
                if sub.org_id not in roles:
                    try:
                        roles[sub.org_id] = await role_in(self.store, sub.org_id, conn.principal)
                    except NotFound as not_found:
                        roles[sub.org_id] = not_found
                role = roles[sub.org_id]
                denial: MinibaseError | None = role if isinstance(role, MinibaseError) else None
                if isinstance(role, Role) and not is_allowed(role, sub.spec.action):
                    denial = Forbidden(f"The {role.value} role may not {sub.spec.action.value}.")
                if denial is not None:
                    conn.subscriptions.pop(sub.id, None)
                    self._drop(sub)
                    conn.send(error_frame(sub.id, denial))

    async def _sweeper(self) -> None:
        """Re-validate every socket's token periodically (a backstop for lost events)."""
        while True:
            await asyncio.sleep(self.settings.sync_revalidate_seconds)
            for conn in list(self.connections):
                try:
                    await authenticate(self.store, self.settings, conn.token)
                except Unauthenticated:
                    conn.close(CLOSE_UNAUTHENTICATED, "token no longer valid")
