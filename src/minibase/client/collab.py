"""Collaborative editing from Python: a flow's Yjs document kept in sync with the server.

``async with client.collab(org_id, flow_id) as flow:`` opens ``WS /v1/collab/{orgId}/{flowId}``
with a single-use ticket, exchanges the y-websocket handshake (sync step 1 and 2), and
from then on sends every local transaction as one update and applies every update the
server relays. The document is a ``pycrdt.Doc`` in the contract's layout: ``nodes`` and
``edges`` map an id to a ``Map`` (or a plain object kept as one unit), ``meta`` holds
``name``. The helpers (:meth:`CollabFlow.add_node`, :meth:`~CollabFlow.move_node`,
:meth:`~CollabFlow.connect`, :meth:`~CollabFlow.delete_node` ...) write it the way the
dashboard's editor does: a new entry is a ``Map`` whose ``data`` is a nested ``Map``, an
existing entry keeps its form, deleting a node deletes its edges in the same transaction.

Presence is the y-protocols awareness (``pycrdt.Awareness``): :meth:`CollabFlow.set_presence`
sets fields of this client's state, :attr:`CollabFlow.peers` lists the others'.

The server stores an update before relaying it to every client, the author included;
:meth:`CollabFlow.flush` waits for that echo, so after it returns every local edit made
before it is durable. Leaving the ``async with`` block flushes, then closes.

When the socket drops it reconnects with backoff and a fresh ticket; the handshake then
sends whatever the other side lacks, edits made while away included. Refusals end the
session with the SDK's errors: ``Unauthenticated`` (4401), ``Forbidden`` (4403),
``NotFound`` (4404).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

from pycrdt import (
    Awareness,
    Doc,
    Map,
    TransactionEvent,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from minibase.client.core import Retry
from minibase.client.errors import (
    ApiError,
    Forbidden,
    MinibaseClientError,
    NetworkError,
    NotFound,
    Unauthenticated,
)

T = TypeVar("T")

MSG_SYNC = 0
MSG_AWARENESS = 1
MSG_AUTH = 2
MSG_QUERY_AWARENESS = 3
MSG_NOTIFICATION = 100
SYNC_STEP2 = 1

VIEW_FIELDS = ("selected", "dragging", "resizing", "measured")
"""React Flow fields that describe one screen, not the flow: never written."""

AWARENESS_RENEW_SECONDS = 15.0
"""The server forgets a presence not renewed for 30 s; stock clients renew every 15 s."""

_REFUSALS: dict[int, tuple[type[ApiError], str]] = {
    4401: (Unauthenticated, "The socket's token is not valid."),
    4403: (Forbidden, "No access to this flow."),
    4404: (NotFound, "No such organization or flow."),
}
_MAX_SAFE_INT = 2**53
_MAX_FRAME = 64 * 1024 * 1024


def collab_url(base_url: str, org_id: str, flow_id: str) -> str:
    scheme, rest = base_url.split("://", 1)
    ws = "wss" if scheme == "https" else "ws"
    return f"{ws}://{rest}/v1/collab/{quote(org_id, safe='')}/{quote(flow_id, safe='')}"


def edge_id(
    source: str, target: str, source_handle: str | None = None, target_handle: str | None = None
) -> str:
    """The id React Flow (and the dashboard) gives the edge of a connection."""
    return f"xy-edge__{source}{source_handle or ''}-{target}{target_handle or ''}"


def plain(value: Any) -> Any:
    """A document value as plain JSON: ``Map`` → dict, integral doubles → int."""
    if isinstance(value, Map):
        value = value.to_py()
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) <= _MAX_SAFE_INT else value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    to_py = getattr(value, "to_py", None)
    return plain(to_py()) if callable(to_py) else value


def _strip(entity: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entity.items() if k not in VIEW_FIELDS and v is not None}


def _entry(entity: Mapping[str, Any]) -> Map[Any]:
    """A new entry as the editor writes it: a ``Map`` whose object ``data`` is a ``Map``."""
    fields: dict[str, Any] = {}
    for key, value in _strip(entity).items():
        fields[key] = Map(dict(value)) if key == "data" and isinstance(value, dict) else value
    return Map(fields)


def _clock_of(state_vector: bytes, client_id: int) -> int:
    """The clock of ``client_id`` in an encoded state vector (0 if absent)."""
    pos = 0

    def varuint() -> int:
        nonlocal pos
        num, shift = 0, 0
        while True:
            byte = state_vector[pos]
            pos += 1
            num |= (byte & 0x7F) << shift
            if byte < 0x80:
                return num
            shift += 7

    try:
        for _ in range(varuint()):
            client, clock = varuint(), varuint()
            if client == client_id:
                return clock
    except IndexError:
        pass
    return 0


def _read_varuint(data: bytes, pos: int) -> tuple[int, int]:
    num, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        num |= (byte & 0x7F) << shift
        if byte < 0x80:
            return num, pos
        shift += 7


def _read_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    length, pos = _read_varuint(data, pos)
    return data[pos : pos + length], pos + length


class CollabFlow:
    """One flow's live document (asyncio). Open it with ``async with client.collab(...)``.

    Read it with :meth:`flow` (``{"name", "nodes", "edges"}`` as plain JSON; node order
    is not meaningful) or through :attr:`doc` and its maps :attr:`nodes`, :attr:`edges`,
    :attr:`meta` (``pycrdt``). Every helper is one transaction, so one update; group
    several with ``with flow.transaction():``.
    """

    def __init__(
        self,
        base_url: str,
        org_id: str,
        flow_id: str,
        ticket: Callable[[], Awaitable[str]],
        retry: Retry,
        presence: Mapping[str, Any] | None = None,
        open_timeout: float | None = 30.0,
    ) -> None:
        self.org_id = org_id
        self._open_timeout = open_timeout
        self.flow_id = flow_id
        self.url = collab_url(base_url, org_id, flow_id)
        self.doc: Doc[Any] = Doc()
        self.nodes: Map[Any] = self.doc.get("nodes", type=Map)
        self.edges: Map[Any] = self.doc.get("edges", type=Map)
        self.meta: Map[Any] = self.doc.get("meta", type=Map)
        self.awareness = Awareness(self.doc)
        if presence:
            self.awareness.set_local_state(dict(presence))
        self.read_only = False
        """The server refused an edit: this client is a viewer (``permission-denied``)."""
        self.notifications: list[dict[str, Any]] = []
        """The server's notes to this client (``rule_violation``, ``edit_refused``)."""
        self.connects = 0
        """How many times the socket opened (1 + reconnections)."""
        self._ticket = ticket
        self._retry = retry
        self._ws: ClientConnection | None = None
        self._outbox: asyncio.Queue[bytes] | None = None
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self._changed = asyncio.Event()
        self._changes = 0  # counts every _notify: "changed since" for the sync face
        self._error: MinibaseClientError | None = None
        self._closed = False
        self._remote = False  # applying the server's update: not ours to send
        self._server: Doc[Any] = Doc()  # what the server sent: what it stored
        self._acked = 0  # our client's clock in it
        self._doc_sub = self.doc.observe(self._on_transaction)
        self._awareness_sub = self.awareness.observe(self._on_awareness)

    # --- life ---------------------------------------------------------------------------

    async def open(
        self,
        timeout: float | None = 30.0,  # noqa: ASYNC109 (the sync face's signature)
    ) -> CollabFlow:
        """Connect and wait until the document holds the server's state."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"minibase-collab-{self.flow_id}")
        await self.synced(timeout)
        return self

    async def synced(
        self,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> None:
        """Wait until the document holds the server's state (again, after a reconnect)."""
        async with asyncio.timeout(timeout):
            while not self._synced.is_set():
                self._raise_if_failed()
                waiter = asyncio.ensure_future(self._synced.wait())
                changed = asyncio.ensure_future(self._changed.wait())
                try:
                    await asyncio.wait({waiter, changed}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    changed.cancel()
                self._changed.clear()
        self._raise_if_failed()

    async def flush(
        self,
        timeout: float | None = 30.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until the server stored every local edit made so far (it relays an update
        to its author too, after appending it durably). ``TimeoutError`` after ``timeout``."""
        if self.read_only:
            raise Forbidden("This client is read-only (a viewer): its edits are not stored.")
        target = _clock_of(self.doc.get_state(), self.doc.client_id)
        async with asyncio.timeout(timeout):
            while self._acked < target:
                self._raise_if_failed()
                await self._changed.wait()
                self._changed.clear()
                if self.read_only:
                    raise Forbidden("This client is read-only: its edits are not stored.")

    async def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float | None = 30.0,  # noqa: ASYNC109 (the sync face's signature)
    ) -> dict[str, Any]:
        """Wait until ``predicate(self.flow())`` holds (checked after every change); the flow."""
        async with asyncio.timeout(timeout):
            while True:
                self._raise_if_failed()
                value = self.flow()
                if predicate(value):
                    return value
                await self._changed.wait()
                self._changed.clear()

    async def changed(
        self,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> None:
        """Wait for the next change of the document or of anyone's presence."""
        await self._changed_since(self._changes, timeout)

    async def _changed_since(
        self,
        seen: int,
        timeout: float | None,  # noqa: ASYNC109
    ) -> int:
        """Wait until the change count passes ``seen``; the new count.

        The sync face waits this way: its caller tests a field from another thread, and a
        change landing between that test and the wait must not be lost."""
        self._raise_if_failed()
        async with asyncio.timeout(timeout):
            while self._changes <= seen:
                self._changed.clear()
                await self._changed.wait()
                self._raise_if_failed()
        return self._changes

    async def close(self) -> None:
        """Leave: tell the others this client is gone, then close the socket."""
        if self._closed:
            return
        self._closed = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(ConnectionClosed, OSError):
                self.awareness.set_local_state(None)
                await ws.send(self._presence_frame())
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.doc.unobserve(self._doc_sub)
        self.awareness.unobserve(self._awareness_sub)
        self._notify()

    async def __aenter__(self) -> CollabFlow:
        try:
            return await self.open(self._open_timeout)
        except BaseException:
            await self.close()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None and not self.read_only and self._error is None:
                await self.flush()
        finally:
            await self.close()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise MinibaseClientError("the collaboration session is closed")

    # --- reading ------------------------------------------------------------------------

    def flow(self) -> dict[str, Any]:
        """The document as a flow: ``{"name", "nodes": [...], "edges": [...]}``."""
        name = self.meta.get("name")
        return {
            "name": name if isinstance(name, str) else "",
            "nodes": [plain(v) for v in self.nodes.values()],
            "edges": [plain(v) for v in self.edges.values()],
        }

    def node(self, node_id: str) -> dict[str, Any] | None:
        value = self.nodes.get(node_id)
        return plain(value) if value is not None else None

    def edge(self, edge_id: str) -> dict[str, Any] | None:
        value = self.edges.get(edge_id)
        return plain(value) if value is not None else None

    @property
    def peers(self) -> list[dict[str, Any]]:
        """The presence of the other clients: their awareness states, each with ``clientId``."""
        mine = self.awareness.client_id
        return [
            {"clientId": client_id, **state}
            for client_id, state in self.awareness.states.items()
            if client_id != mine and state
        ]

    # --- writing (each one transaction, so one update) -----------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group edits into one update: ``with flow.transaction(): ...``."""
        with self.doc.transaction():
            yield

    def add_node(self, node: Mapping[str, Any]) -> str:
        """Add a node (``{"id", "type", "position": {"x", "y"}, "data": {...}}``); its id."""
        node_id = str(node["id"])
        self.nodes[node_id] = _entry(node)
        return node_id

    def update_node(self, node_id: str, **fields: Any) -> None:
        """Set top-level fields of a node (``None`` deletes one), keeping the entry's form."""
        self._set_fields(self.nodes, node_id, fields)

    def move_node(self, node_id: str, x: float, y: float) -> None:
        """Set a node's ``position`` (a plain ``{x, y}``, as the editor writes at drag end)."""
        self._set_fields(self.nodes, node_id, {"position": {"x": x, "y": y}})

    def update_node_data(
        self, node_id: str, data: Mapping[str, Any], *, replace: bool = False
    ) -> None:
        """Merge ``data`` into a node's data key by key (``replace=True``: drop other keys)."""
        entry = self._existing(self.nodes, node_id)
        with self.doc.transaction():
            if isinstance(entry, Map):
                current = entry.get("data")
                if isinstance(current, Map):
                    if replace:
                        for key in [k for k in list(current.keys()) if k not in data]:
                            del current[key]
                    for key, value in data.items():
                        if value is None:
                            current.pop(key, None)
                        else:
                            current[key] = value
                else:
                    base = {} if replace or not isinstance(current, dict) else dict(current)
                    entry["data"] = {**base, **data}
            else:
                item = plain(entry)
                base = {} if replace else dict(item.get("data") or {})
                self.nodes[node_id] = {**item, "data": {**base, **data}}

    def delete_node(self, node_id: str) -> None:
        """Delete a node and every edge to or from it, in one transaction."""
        self._existing(self.nodes, node_id)
        with self.doc.transaction():
            del self.nodes[node_id]
            for key in list(self.edges.keys()):
                edge = plain(self.edges.get(key))
                if isinstance(edge, dict) and node_id in (edge.get("source"), edge.get("target")):
                    del self.edges[key]

    def connect(
        self,
        source: str,
        target: str,
        *,
        source_handle: str | None = None,
        target_handle: str | None = None,
        id: str | None = None,
        **fields: Any,
    ) -> str:
        """Add an edge from ``source`` to ``target`` (React Flow's id unless ``id``); its id."""
        key = id or edge_id(source, target, source_handle, target_handle)
        edge: dict[str, Any] = {"id": key, "source": source, "target": target, **fields}
        if source_handle:
            edge["sourceHandle"] = source_handle
        if target_handle:
            edge["targetHandle"] = target_handle
        self.edges[key] = _entry(edge)
        return key

    def delete_edge(self, edge_id: str) -> None:
        self._existing(self.edges, edge_id)
        del self.edges[edge_id]

    def rename(self, name: str) -> None:
        """Rename the flow (``meta.name``)."""
        self.meta["name"] = name

    def _existing(self, ymap: Map[Any], key: str) -> Any:
        entry = ymap.get(key)
        if entry is None:
            raise KeyError(key)
        return entry

    def _set_fields(self, ymap: Map[Any], key: str, fields: Mapping[str, Any]) -> None:
        entry = self._existing(ymap, key)
        fields = {k: v for k, v in fields.items() if k not in VIEW_FIELDS}
        with self.doc.transaction():
            if isinstance(entry, Map):
                for name, value in fields.items():
                    if value is None:
                        entry.pop(name, None)
                    else:
                        entry[name] = value
            else:
                item = {**plain(entry), **fields}
                ymap[key] = {k: v for k, v in item.items() if v is not None}

    # --- presence -----------------------------------------------------------------------

    def set_presence(self, **fields: Any) -> None:
        """Set fields of this client's presence (``user``, ``cursor``, ``selection`` ...)."""
        state = copy.deepcopy(self.awareness.get_local_state() or {})
        state.update(fields)
        self.awareness.set_local_state(state)

    # --- the socket ---------------------------------------------------------------------

    def _notify(self) -> None:
        self._changes += 1
        self._changed.set()

    def _on_transaction(self, event: TransactionEvent) -> None:
        self._notify()
        if self._remote or self._outbox is None:
            return  # a remote update, or offline: the next handshake sends the difference
        update: bytes = event.update
        if update != b"\x00\x00":
            self._outbox.put_nowait(create_update_message(update))

    def _on_awareness(self, topic: str, change: tuple[dict[str, Any], Any]) -> None:
        self._notify()
        _, origin = change
        if topic == "update" and origin == "local" and self._outbox is not None:
            self._outbox.put_nowait(self._presence_frame())

    def _presence_frame(self) -> bytes:
        update = self.awareness.encode_awareness_update([self.awareness.client_id])
        return create_awareness_message(update)

    def _fail(self, error: MinibaseClientError) -> None:
        self._error = error
        self._notify()

    async def _run(self) -> None:
        attempt = 0
        while not self._closed:
            try:
                ticket = await self._ticket()
                async with connect(
                    f"{self.url}?ticket={ticket}", max_size=_MAX_FRAME, compression=None
                ) as ws:
                    self.connects += 1
                    await self._session(ws)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None
                if code in _REFUSALS:
                    cls, message = _REFUSALS[code]
                    self._fail(cls(message, status=code - 4000))
                    return
            except (Unauthenticated, Forbidden, NotFound) as error:
                self._fail(error)
                return
            except (OSError, InvalidHandshake, TimeoutError, NetworkError, ApiError):
                pass  # the server is away or restarting: try again after a pause
            except Exception as error:  # noqa: BLE001 - e.g. the client was closed: end, never hang
                self._fail(MinibaseClientError(f"the collaboration session stopped: {error}"))
                return
            if self._synced.is_set():
                attempt = 0
            self._synced.clear()
            if self._closed:
                return
            await asyncio.sleep(self._retry.delay(attempt))
            attempt += 1

    async def _session(self, ws: ClientConnection) -> None:
        outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._ws, self._outbox = ws, outbox
        writer = asyncio.create_task(self._write(ws, outbox))
        try:
            await ws.send(create_sync_message(self.doc))
            await ws.send(self._presence_frame())
            renew = time.monotonic() + AWARENESS_RENEW_SECONDS
            while True:
                try:
                    async with asyncio.timeout(max(0.0, renew - time.monotonic())):
                        frame = await ws.recv()
                except TimeoutError:
                    if self.awareness.get_local_state() is not None:
                        self.awareness.set_local_state(self.awareness.get_local_state())
                    renew = time.monotonic() + AWARENESS_RENEW_SECONDS
                    continue
                if isinstance(frame, bytes):
                    self._receive(frame, outbox)
        finally:
            self._ws, self._outbox = None, None
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    @staticmethod
    async def _write(ws: ClientConnection, outbox: asyncio.Queue[bytes]) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.send(await outbox.get())

    def _receive(self, frame: bytes, outbox: asyncio.Queue[bytes]) -> None:
        kind, pos = _read_varuint(frame, 0)
        if kind == MSG_SYNC:
            body = frame[pos:]
            if body[:1] != b"\x00":  # step 2 or an update: the server stored it
                update, _ = _read_bytes(body, 1)
                self._server.apply_update(update)
                self._acked = _clock_of(self._server.get_state(), self.doc.client_id)
            self._remote = True
            try:
                reply = handle_sync_message(body, self.doc)
            finally:
                self._remote = False
            if reply is not None:
                outbox.put_nowait(reply)
            if body[:1] == bytes((SYNC_STEP2,)):
                self._synced.set()
            self._notify()
        elif kind == MSG_AWARENESS:
            update, _ = _read_bytes(frame, pos)
            self.awareness.apply_awareness_update(update, "remote")
        elif kind == MSG_AUTH:
            self.read_only = True
            self._notify()
        elif kind == MSG_NOTIFICATION:
            text, _ = _read_bytes(frame, pos)
            with contextlib.suppress(ValueError):
                note = json.loads(text)
                if isinstance(note, dict):
                    self.notifications.append(note)
                    self._notify()


# --- the synchronous face: the same session, run by an event loop in a thread -------------


class SyncCollabFlow:
    """A :class:`CollabFlow` for the sync :class:`~minibase.client.Client`.

    The session runs on an event loop in a daemon thread; every method runs there too, so
    the document is only ever touched by that thread. ``with client.collab(...) as flow:``.
    """

    def __init__(self, make: Callable[[], CollabFlow], timeout: float | None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="minibase-collab", daemon=True
        )
        self._thread.start()

        async def start() -> tuple[CollabFlow, int]:
            session = make()
            try:
                return await session.open(timeout), session._changes
            except BaseException:
                await session.close()
                raise

        self._flow: CollabFlow
        self._seen: int  # the change count the caller has looked at: see changed()
        try:
            self._flow, self._seen = self._await(start())
        except BaseException:
            self._stop_loop()
            raise

    def _await(self, coro: Any, timeout: float | None = None) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async def run() -> T:
            return fn(*args, **kwargs)

        return self._await(run())  # type: ignore[no-any-return]

    @property
    def session(self) -> CollabFlow:
        """The underlying asyncio session (touch its document only on its loop)."""
        return self._flow

    @property
    def read_only(self) -> bool:
        return self._flow.read_only

    @property
    def notifications(self) -> list[dict[str, Any]]:
        return self._call(lambda: list(self._flow.notifications))

    @property
    def peers(self) -> list[dict[str, Any]]:
        return self._call(lambda: self._flow.peers)

    def flow(self) -> dict[str, Any]:
        return self._call(self._flow.flow)

    def node(self, node_id: str) -> dict[str, Any] | None:
        return self._call(self._flow.node, node_id)

    def edge(self, edge_id: str) -> dict[str, Any] | None:
        return self._call(self._flow.edge, edge_id)

    def add_node(self, node: Mapping[str, Any]) -> str:
        return self._call(self._flow.add_node, node)

    def update_node(self, node_id: str, **fields: Any) -> None:
        self._call(self._flow.update_node, node_id, **fields)

    def move_node(self, node_id: str, x: float, y: float) -> None:
        self._call(self._flow.move_node, node_id, x, y)

    def update_node_data(
        self, node_id: str, data: Mapping[str, Any], *, replace: bool = False
    ) -> None:
        self._call(self._flow.update_node_data, node_id, data, replace=replace)

    def delete_node(self, node_id: str) -> None:
        self._call(self._flow.delete_node, node_id)

    def connect(
        self,
        source: str,
        target: str,
        *,
        source_handle: str | None = None,
        target_handle: str | None = None,
        id: str | None = None,
        **fields: Any,
    ) -> str:
        return self._call(
            self._flow.connect,
            source,
            target,
            source_handle=source_handle,
            target_handle=target_handle,
            id=id,
            **fields,
        )

    def delete_edge(self, edge_id: str) -> None:
        self._call(self._flow.delete_edge, edge_id)

    def rename(self, name: str) -> None:
        self._call(self._flow.rename, name)

    def edit(self, fn: Callable[[CollabFlow], T]) -> T:
        """Run ``fn(session)`` in one transaction on the session's thread (one update)."""

        def run() -> T:
            with self._flow.transaction():
                return fn(self._flow)

        return self._call(run)

    def set_presence(self, **fields: Any) -> None:
        self._call(self._flow.set_presence, **fields)

    def flush(self, timeout: float | None = 30.0) -> None:
        self._await(self._flow.flush(timeout))

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float | None = 30.0
    ) -> dict[str, Any]:
        return self._await(self._flow.wait_for(predicate, timeout))  # type: ignore[no-any-return]

    def changed(self, timeout: float | None = None) -> None:
        """Wait for a change since the last ``changed()`` returned (or since opening).

        Unlike the async face's "next change", a change that lands while the caller tests
        its condition (in this thread, the session runs in another) still wakes it."""
        self._seen = self._await(self._flow._changed_since(self._seen, timeout))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._await(self._flow.close())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncCollabFlow:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None and not self._flow.read_only:
                self.flush()
        finally:
            self.close()
