"""Live queries over ``WS /v1/sync``: one socket per client, any number of subscriptions.

The socket opens with a single-use ticket (``POST /v1/socket-tickets``), so the token
never travels in a URL. When it drops (server restart, network), it reconnects with
exponential backoff and full jitter, fetching a fresh ticket each time, and subscribes
every live subscription again; the server answers each with its current value, so a
subscriber always ends on the latest value. A subscription yields nothing before the
server confirmed it, and values that arrive faster than they are read are coalesced: the
reader gets the newest one. A value equal to the last one yielded (the answer to a
resubscription when nothing changed meanwhile) is not yielded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
from collections.abc import Awaitable, Callable, Generator, Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from minibase.client.core import Retry
from minibase.client.errors import (
    ApiError,
    MinibaseClientError,
    NetworkError,
    Unauthenticated,
    socket_error,
)
from minibase.client.models import SocketTicket

CLOSE_UNAUTHENTICATED = 4401
MAX_FRAME = 64 * 1024 * 1024


def sync_url(base_url: str) -> str:
    scheme, rest = base_url.split("://", 1)
    return ("wss" if scheme == "https" else "ws") + "://" + rest + "/v1/sync"


class Subscription:
    """One live query: ``async for value in sub``; ``await sub`` waits for the server."""

    def __init__(self, socket: LiveSocket, sub_id: str, query: str, args: dict[str, Any]) -> None:
        self.id = sub_id
        self.query = query
        self.args = args
        self.version: int | None = None
        """The version the server sent with the newest value."""
        self._socket = socket
        self._wake = asyncio.Event()
        self._confirmed = asyncio.Event()
        self._pending: list[Any] = []  # at most one: the newest value not yet read
        self._last: list[Any] = []  # the last value yielded
        self._error: MinibaseClientError | None = None
        self._closed = False
        self._active = False

    def frame(self) -> str:
        return json.dumps(
            {"type": "subscribe", "id": self.id, "query": self.query, "args": self.args}
        )

    # --- called by the socket ----------------------------------------------------------

    def deliver(self, value: Any, version: Any) -> None:
        self.version = version if isinstance(version, int) else None
        self._confirmed.set()
        if not self._pending and self._last and self._last[0] == value:
            return
        self._pending[:] = [value]
        self._wake.set()

    def fail(self, error: MinibaseClientError) -> None:
        self._error = error
        self._confirmed.set()
        self._wake.set()

    # --- used by the reader ------------------------------------------------------------

    async def confirmed(self) -> Subscription:
        """Wait until the server accepted the subscription (raise its error if not)."""
        await self._activate()
        await self._confirmed.wait()
        if self._error is not None:
            raise self._error
        return self

    def __await__(self) -> Generator[Any, None, Subscription]:
        return self.confirmed().__await__()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        await self._activate()
        while True:
            if self._pending:
                value = self._pending.pop()
                self._last[:] = [value]
                self._wake.clear()
                return value
            if self._error is not None:
                raise self._error
            if self._closed:
                raise StopAsyncIteration
            await self._wake.wait()
            self._wake.clear()

    async def close(self) -> None:
        """Unsubscribe; an iteration in progress ends."""
        if not self._closed:
            self._closed = True
            self._wake.set()
            await self._socket.unsubscribe(self)

    async def __aenter__(self) -> Subscription:
        return await self.confirmed()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _activate(self) -> None:
        if not self._active:
            self._active = True
            await self._socket.activate(self)


class LiveSocket:
    """The shared socket of an :class:`~minibase.client.AsyncClient`."""

    def __init__(self, base_url: str, ticket: Callable[[], Awaitable[str]], retry: Retry) -> None:
        self.url = sync_url(base_url)
        self._ticket = ticket
        self._retry = retry
        self._ids = itertools.count(1)
        self._subs: dict[str, Subscription] = {}
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.connects = 0
        """How many times the socket opened (1 + reconnections)."""

    def subscribe(self, query: str, args: dict[str, Any]) -> Subscription:
        return Subscription(self, f"q{next(self._ids)}", query, args)

    async def activate(self, sub: Subscription) -> None:
        if self._closed:
            raise MinibaseClientError("the client is closed")
        self._subs[sub.id] = sub
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        elif self._ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(sub.frame())  # else the next connection sends it

    async def unsubscribe(self, sub: Subscription) -> None:
        if self._subs.pop(sub.id, None) is not None and self._ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(json.dumps({"type": "unsubscribe", "id": sub.id}))

    async def close(self) -> None:
        self._closed = True
        for sub in list(self._subs.values()):
            sub._closed = True
            sub._wake.set()
        self._subs.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _fail_all(self, error: MinibaseClientError) -> None:
        for sub in self._subs.values():
            sub.fail(error)
        self._subs.clear()

    async def _run(self) -> None:
        try:
            await self._follow()
        finally:
            self._task = None  # a later subscription starts a new loop

    async def _follow(self) -> None:
        attempt = 0
        while self._subs:
            try:
                ticket = await self._ticket()
                async with connect(
                    f"{self.url}?ticket={ticket}", max_size=MAX_FRAME, compression=None
                ) as ws:
                    self._ws = ws
                    self.connects += 1
                    for sub in list(self._subs.values()):
                        await ws.send(sub.frame())
                    async for raw in ws:
                        attempt = 0
                        self._dispatch(raw)
            except ConnectionClosed as closed:
                if closed.rcvd is not None and closed.rcvd.code == CLOSE_UNAUTHENTICATED:
                    self._fail_all(Unauthenticated("The socket's token is no longer valid."))
                    return
            except Unauthenticated as error:
                self._fail_all(error)
                return
            except (OSError, InvalidHandshake, TimeoutError, NetworkError, ApiError):
                pass  # the server is away or restarting: try again after a pause
            except Exception as error:  # noqa: BLE001 - e.g. the client was closed: end, never hang
                self._fail_all(MinibaseClientError(f"live queries stopped: {error}"))
                return
            finally:
                self._ws = None
            await asyncio.sleep(self._retry.delay(attempt))
            attempt += 1

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        sub = self._subs.get(message.get("id") or "")
        if sub is None:
            return
        if message.get("type") == "result":
            sub.deliver(message.get("value"), message.get("version"))
        elif message.get("type") == "error":
            self._subs.pop(sub.id, None)
            sub.fail(socket_error(message.get("error")))


# --- the synchronous face: the same socket, run by an event loop in a thread --------------


class SyncSubscription:
    """A live query of a sync :class:`~minibase.client.Client`: ``for value in sub``."""

    def __init__(self, sub: Subscription, loop: asyncio.AbstractEventLoop) -> None:
        self._sub = sub
        self._loop = loop

    @property
    def version(self) -> int | None:
        return self._sub.version

    def next(self, timeout: float | None = None) -> Any:
        """The next value; ``TimeoutError`` if none came within ``timeout`` seconds."""
        future: Future[Any] = asyncio.run_coroutine_threadsafe(self._sub.__anext__(), self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                yield self.next()
            except StopAsyncIteration:
                return

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._sub.close(), self._loop).result()

    def __enter__(self) -> SyncSubscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SyncLive:
    """Runs a :class:`LiveSocket` on an event loop in a daemon thread."""

    def __init__(self, base_url: str, ticket: Callable[[], SocketTicket], retry: Retry) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="minibase-live", daemon=True
        )
        self._thread.start()

        async def async_ticket() -> str:
            return (await asyncio.to_thread(ticket))["ticket"]

        self.socket = LiveSocket(base_url, async_ticket, retry)

    def subscribe(self, query: str, args: dict[str, Any]) -> SyncSubscription:
        async def start() -> Subscription:
            return await self.socket.subscribe(query, args)

        sub = asyncio.run_coroutine_threadsafe(start(), self._loop).result()
        return SyncSubscription(sub, self._loop)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.socket.close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
