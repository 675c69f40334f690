"""The event bus: the same guarantees in process and through Redis.

Tests taking ``make_bus`` run on :class:`InProcessBus` and on :class:`RedisBus` (against
the real Redis; skipped, or failed with ``MINIBASE_REQUIRE_SERVICES=1``, when it is not
reachable). Every Redis test uses its own random prefix, so concurrent runs never see
each other's events. Nothing here sleeps to wait: tests wait on conditions, with timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import httpx
import orjson
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from minibase.app import create_app
from minibase.config import Settings
from minibase.domain.events import Event, EventBus, EventKind, resync
from minibase.errors import ServiceUnavailable
from minibase.realtime import InProcessBus, RedisBus, build_bus, redis_bus
from tests.services import REDIS_URL, skip_or_fail

WAIT = 10.0  # seconds any expected delivery may take before the test fails


class Recorder:
    """A subscriber that keeps what it receives and lets a test wait for a condition."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Condition()

    async def __call__(self, event: Event) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    @property
    def changes(self) -> list[Event]:
        """What was received, without resync signals."""
        return [e for e in self.events if not e.is_resync]

    @property
    def resyncs(self) -> list[Event]:
        return [e for e in self.events if e.is_resync]

    async def wait_for(self, predicate: Callable[[Recorder], bool]) -> None:
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    async def wait_for_event(self, event: Event) -> None:
        await self.wait_for(lambda r: event in r.events)


def ev(n: int, org: str = "org1", kind: EventKind = EventKind.FLOW) -> Event:
    return Event(org_id=org, kind=kind, ids=(f"id{n}",), version=n, extra={"n": n})


def marker() -> Event:
    return Event(org_id="org1", kind=EventKind.ORG, ids=(secrets.token_hex(4),))


async def redis_url_or_skip() -> str:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError):
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}")
    finally:
        await client.aclose()
    return REDIS_URL


def new_prefix() -> str:
    return f"mbtest:{secrets.token_hex(6)}:"


async def delete_keys(prefix: str) -> None:
    """The bus writes no keys; remove any anyway, so a run leaves Redis as it found it."""
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def prefix() -> str:
    return new_prefix()


BusFactory = Callable[..., Awaitable[Any]]


class Buses:
    """Makes started buses (RedisBus: on ``url``, this test's prefix unless told) and
    closes them all at the end of the test."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.buses: list[InProcessBus | RedisBus] = []
        self.prefixes = {prefix}

    async def redis(self, bus_prefix: str = "", *, url: str = "", **options: Any) -> RedisBus:
        bus_prefix = bus_prefix or self.prefix
        self.prefixes.add(bus_prefix)
        bus = RedisBus(url or self.url, bus_prefix, **options)
        self.buses.append(bus)
        await bus.start()
        return bus

    async def memory(self, **options: Any) -> InProcessBus:
        bus = InProcessBus(**options)
        self.buses.append(bus)
        await bus.start()
        return bus

    async def close(self) -> None:
        for bus in self.buses:
            await bus.close()
        if self.url:
            for used in self.prefixes:
                await delete_keys(used)


@pytest.fixture
async def redis_buses(prefix: str) -> AsyncIterator[Callable[..., Awaitable[RedisBus]]]:
    """Make started RedisBus instances (default: this test's prefix); all closed after."""
    buses = Buses(await redis_url_or_skip(), prefix)
    yield buses.redis
    await buses.close()


@pytest.fixture(params=["memory", "redis"])
async def make_bus(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[BusFactory]:
    """Make a started bus of the parametrized kind; closed after the test."""
    if request.param == "redis":
        buses = Buses(await redis_url_or_skip(), prefix)
        yield buses.redis
    else:
        buses = Buses("", prefix)
        yield buses.memory
    await buses.close()


async def publish_all(bus: EventBus, events: Sequence[Event], batch: int) -> None:
    for i in range(0, len(events), batch):
        await bus.publish(events[i : i + batch])


# -- both implementations -------------------------------------------------------------


async def test_every_subscriber_gets_every_event_once_in_order(make_bus: BusFactory) -> None:
    bus = await make_bus()
    first, second = Recorder(), Recorder()
    bus.subscribe(first)
    bus.subscribe(second)
    events = [ev(n) for n in range(300)]
    await publish_all(bus, events, batch=7)
    end = marker()
    await bus.publish([end])
    for recorder in (first, second):
        await recorder.wait_for_event(end)
        # Exactly once and in order: everything before the marker, nothing twice.
        assert recorder.events == [*events, end]


async def test_json_round_trip_keeps_the_event(make_bus: BusFactory) -> None:
    bus = await make_bus()
    recorder = Recorder()
    bus.subscribe(recorder)
    event = Event(
        org_id="o",
        kind=EventKind.OUTPUTS,
        ids=("f", "n"),
        version=None,
        extra={"ms": 1.5, "ok": True},
    )
    await bus.publish([event])
    await recorder.wait_for_event(event)
    assert recorder.events == [event]


async def test_a_failing_subscriber_does_not_stop_the_others(
    make_bus: BusFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bus = await make_bus()
    calls: list[Event] = []

    async def broken(event: Event) -> None:
        calls.append(event)
        raise ValueError("subscriber bug")

    recorder = Recorder()
    bus.subscribe(broken)
    bus.subscribe(recorder)
    events = [ev(n) for n in range(3)]
    with caplog.at_level(logging.ERROR, logger="minibase.bus"):
        await bus.publish(events)
        await recorder.wait_for(lambda r: len(r.events) == 3)
    assert recorder.events == events
    assert calls == events  # the broken one still gets every event
    assert [r.message for r in caplog.records].count("event subscriber failed") == 3


async def test_unsubscribe_stops_delivery_to_that_subscriber_only(make_bus: BusFactory) -> None:
    bus = await make_bus()
    gone, staying = Recorder(), Recorder()
    unsubscribe = bus.subscribe(gone)
    bus.subscribe(staying)
    first = ev(1)
    await bus.publish([first])
    await gone.wait_for_event(first)
    unsubscribe()
    unsubscribe()  # idempotent
    second = ev(2)
    await bus.publish([second])
    await staying.wait_for_event(second)
    assert gone.events == [first]
    assert staying.events == [first, second]


async def test_one_function_subscribed_twice_is_called_twice(make_bus: BusFactory) -> None:
    bus = await make_bus()
    recorder = Recorder()
    bus.subscribe(recorder)
    unsubscribe = bus.subscribe(recorder)
    event = ev(1)
    await bus.publish([event])
    await recorder.wait_for(lambda r: len(r.events) == 2)
    unsubscribe()
    end = marker()
    await bus.publish([end])
    await recorder.wait_for_event(end)
    assert recorder.events == [event, event, end]


async def test_a_slow_subscriber_does_not_block_publish(make_bus: BusFactory) -> None:
    bus = await make_bus()
    gate = asyncio.Event()

    async def slow(event: Event) -> None:
        await gate.wait()

    recorder = Recorder()
    bus.subscribe(slow)
    bus.subscribe(recorder)
    events = [ev(n) for n in range(100)]
    async with asyncio.timeout(1.0):  # each publish returns without waiting for `slow`
        await publish_all(bus, events, batch=1)
    gate.set()
    await recorder.wait_for(lambda r: len(r.events) == 100)
    assert recorder.events == events


# -- the shared delivery queue ---------------------------------------------------------


async def test_overflowing_subscribers_get_resync_instead_of_the_dropped_events(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = InProcessBus(max_pending=5)
    await bus.start()
    try:
        gate = asyncio.Event()
        blocked = asyncio.Event()

        async def slow(event: Event) -> None:
            blocked.set()
            await gate.wait()

        recorder = Recorder()
        bus.subscribe(slow)
        bus.subscribe(recorder)
        await bus.publish([ev(0)])
        await asyncio.wait_for(blocked.wait(), WAIT)  # ev(0) is being delivered
        with caplog.at_level(logging.WARNING, logger="minibase.bus"):
            # 1-5 wait; 6 overflows: all dropped, resync waits; 7-10 wait; 11 overflows
            # again (one resync is enough); 12 waits.
            await bus.publish([ev(n) for n in range(1, 13)])
        gate.set()
        after = ev(13)
        await bus.publish([after])
        await recorder.wait_for_event(after)
        assert recorder.events == [ev(0), resync("overflow"), ev(12), after]
        assert sum("too slow" in r.message for r in caplog.records) == 2
    finally:
        await bus.close()


async def test_closed_in_process_bus_stops_delivering() -> None:
    bus = InProcessBus()
    await bus.start()
    recorder = Recorder()
    bus.subscribe(recorder)
    await bus.close()
    await bus.publish([ev(1)])
    assert recorder.events == []
    assert bus._pending.empty()  # nothing piles up either


def test_resync_signal_is_recognised_and_survives_json() -> None:
    signal = resync("reconnected")
    assert signal.is_resync
    assert signal.org_id == "*"
    assert signal.kind == "resync"
    assert Event.from_json(signal.to_json()) == signal
    assert not Event(org_id="org1", kind=EventKind.RESYNC).is_resync
    assert not ev(1).is_resync


# -- Redis: several instances ----------------------------------------------------------


async def test_two_instances_see_each_others_events_in_the_same_order(
    redis_buses: Callable[..., Awaitable[RedisBus]],
) -> None:
    server_a, server_b = await redis_buses(), await redis_buses()
    seen_a, seen_b = Recorder(), Recorder()
    server_a.subscribe(seen_a)
    server_b.subscribe(seen_b)
    from_a = [ev(n, org="a") for n in range(100)]
    from_b = [ev(n, org="b") for n in range(100)]
    await asyncio.gather(publish_all(server_a, from_a, 3), publish_all(server_b, from_b, 5))
    for recorder in (seen_a, seen_b):
        await recorder.wait_for(lambda r: len(r.events) >= 200)
    # One order for the whole deployment, each publisher's order kept, nothing twice.
    assert seen_a.events == seen_b.events
    assert [e for e in seen_a.events if e.org_id == "a"] == from_a
    assert [e for e in seen_a.events if e.org_id == "b"] == from_b
    end = marker()
    await server_b.publish([end])
    await seen_a.wait_for_event(end)
    assert len(seen_a.events) == 201


async def test_deployments_with_different_prefixes_do_not_see_each_other(
    redis_buses: Callable[..., Awaitable[RedisBus]],
) -> None:
    ours = await redis_buses()
    theirs = await redis_buses(new_prefix())
    seen_ours, seen_theirs = Recorder(), Recorder()
    ours.subscribe(seen_ours)
    theirs.subscribe(seen_theirs)
    their_event = ev(1, org="theirs")
    await theirs.publish([their_event])
    await seen_theirs.wait_for_event(their_event)
    # Redis handled their PUBLISH before ours; had it reached our channel, it would have
    # arrived first on our connection.
    our_event = ev(2, org="ours")
    await ours.publish([our_event])
    await seen_ours.wait_for_event(our_event)
    assert seen_ours.events == [our_event]
    assert seen_theirs.events == [their_event]


async def kill_connection(bus: RedisBus, kind: str) -> None:
    """``CLIENT KILL TYPE kind`` limited to ``bus``'s connections (by client name)."""
    admin = Redis.from_url(REDIS_URL)
    try:
        clients = await admin.client_list(_type=kind)  # type: ignore[arg-type]
        ids = [c["id"] for c in clients if c.get("name") == bus.client_name]
        assert ids, f"no {kind} connection named {bus.client_name}"
        for client_id in ids:
            await admin.client_kill_filter(_id=client_id, _type=kind)  # type: ignore[arg-type]
    finally:
        await admin.aclose()


async def test_close_does_not_wait_for_a_subscription_teardown_that_never_ends(
    redis_buses: Callable[..., Awaitable[RedisBus]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """redis-py finishes a subscription's teardown even when its task is cancelled; CI saw
    one never end, and the server's shutdown waited with it. Close waits the bus timeout."""
    release = asyncio.Event()

    async def stuck_teardown(pubsub: Any) -> None:
        while not release.is_set():  # deaf to cancellation, like redis-py's shielded close
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    bus = await redis_buses(timeout=0.2)
    monkeypatch.setattr(redis_bus, "_close", stuck_teardown)
    listener = bus._listener
    assert listener is not None
    try:
        with caplog.at_level(logging.WARNING, logger="minibase.bus"):
            await asyncio.wait_for(bus.close(), 5)
        assert not listener.done()
        assert "did not stop in time" in caplog.text
    finally:
        release.set()  # let the stuck task end before the test's loop does
        await asyncio.wait({listener}, timeout=5)
    assert listener.cancelled()


async def test_bus_resubscribes_by_itself_after_its_connection_is_killed(
    redis_buses: Callable[..., Awaitable[RedisBus]],
) -> None:
    server_a, server_b = await redis_buses(), await redis_buses()
    seen_a = Recorder()
    server_a.subscribe(seen_a)
    before = ev(1)
    await server_b.publish([before])
    await seen_a.wait_for_event(before)

    await kill_connection(server_a, "pubsub")
    await seen_a.wait_for(lambda r: len(r.resyncs) == 1)
    assert seen_a.resyncs == [resync("reconnected")]
    assert server_a.subscribed

    from_b, from_a = ev(2, org="b"), ev(3, org="a")
    await server_b.publish([from_b])
    await server_a.publish([from_a])
    await seen_a.wait_for(lambda r: from_a in r.events and from_b in r.events)
    assert seen_a.events[:2] == [before, resync("reconnected")]
    assert sorted(seen_a.events[2:], key=lambda e: e.version or 0) == [from_b, from_a]
    await server_a.ping()


async def test_publish_right_after_the_connection_is_killed_still_arrives(
    redis_buses: Callable[..., Awaitable[RedisBus]],
) -> None:
    server_a, server_b = await redis_buses(), await redis_buses()
    seen_b = Recorder()
    server_b.subscribe(seen_b)
    first = ev(1)
    await server_a.publish([first])
    await seen_b.wait_for_event(first)
    await kill_connection(server_a, "normal")  # the idle publishing connection
    second = ev(2)
    await server_a.publish([second])
    await seen_b.wait_for_event(second)
    # The failed send is repeated on a new connection: nothing lost, nothing twice.
    assert seen_b.events == [first, second]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_publish_never_raises_when_redis_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = RedisBus(
        f"redis://127.0.0.1:{closed_port()}/0", new_prefix(), timeout=1.0, backoff_max=0.1
    )
    with caplog.at_level(logging.WARNING, logger="minibase.bus"):
        await bus.start()  # logs, keeps retrying in the background
        try:
            assert not bus.subscribed
            await bus.publish([ev(1), ev(2)])
            with pytest.raises(ServiceUnavailable):
                await bus.ping()
        finally:
            async with asyncio.timeout(3.0):  # close does not wait for Redis to come back
                await bus.close()
    assert any("cannot subscribe" in r.message for r in caplog.records)
    await bus.publish([ev(3)])  # after close: dropped, still no exception


# -- Redis: going away and coming back -------------------------------------------------


class Proxy:
    """A TCP proxy to Redis that a test can take down and bring back on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    def freeze(self) -> None:
        """Keep every connection open but pass no byte (a hung server or network)."""
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Stop listening and cut every open connection."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        pipes = {
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        }
        self._pipes |= pipes
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            self._pipes -= pipes
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return


@pytest.fixture
async def redis_proxy() -> AsyncIterator[Proxy]:
    url = await redis_url_or_skip()
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    proxy = Proxy(host, int(port))
    await proxy.up()
    yield proxy
    if proxy._server is not None:
        await proxy.down()


class LogWaiter(logging.Handler):
    """Sets :attr:`seen` when the bus logs a line containing ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


@contextlib.contextmanager
def log_handler(handler: logging.Handler) -> Iterator[None]:
    bus_log = logging.getLogger("minibase.bus")
    bus_log.addHandler(handler)
    try:
        yield
    finally:
        bus_log.removeHandler(handler)


async def test_events_published_while_redis_is_down_are_sent_when_it_is_back(
    redis_proxy: Proxy, redis_buses: Callable[..., Awaitable[RedisBus]]
) -> None:
    # Server A reaches Redis through the proxy; server B directly and is never cut off.
    server_a = await redis_buses(
        url=f"redis://127.0.0.1:{redis_proxy.port}/0", timeout=2.0, backoff_max=0.2
    )
    server_b = await redis_buses()
    seen_a, seen_b = Recorder(), Recorder()
    server_a.subscribe(seen_a)
    server_b.subscribe(seen_b)

    before = ev(0)
    await server_a.publish([before])
    await seen_b.wait_for_event(before)

    failed = LogWaiter("cannot publish to Redis")
    with log_handler(failed):
        await redis_proxy.down()
        first = ev(1)
        await server_a.publish([first])  # Redis is unreachable: no exception
        await asyncio.wait_for(failed.seen.wait(), WAIT)
    second = ev(2)
    await server_a.publish([second])  # waits in A's outbox behind `first`
    with pytest.raises(ServiceUnavailable):
        await server_a.ping()

    await redis_proxy.up()
    # A sends what waited, in order; B, subscribed all along, misses nothing.
    await seen_b.wait_for_event(second)
    assert seen_b.events == [before, first, second]
    # A lost its own subscription: it resubscribes and resyncs on its own.
    await seen_a.wait_for(lambda r: resync("reconnected") in r.events)
    after_b, after_a = ev(3, org="b"), ev(4, org="a")
    await server_b.publish([after_b])
    await server_a.publish([after_a])
    for recorder in (seen_a, seen_b):
        await recorder.wait_for(lambda r: after_a in r.events and after_b in r.events)
    assert seen_b.resyncs == []
    assert seen_b.changes.count(first) == 1
    await server_a.ping()


async def test_events_dropped_from_a_full_outbox_make_receivers_resync(
    redis_proxy: Proxy, redis_buses: Callable[..., Awaitable[RedisBus]]
) -> None:
    server_a = await redis_buses(
        url=f"redis://127.0.0.1:{redis_proxy.port}/0",
        timeout=2.0,
        backoff_max=0.2,
        max_buffered=2,
    )
    server_b = await redis_buses()
    seen_b = Recorder()
    server_b.subscribe(seen_b)
    before = ev(0)
    await server_a.publish([before])
    await seen_b.wait_for_event(before)

    await redis_proxy.down()
    await server_a.publish([ev(n) for n in range(1, 6)])  # only the last 2 fit
    await redis_proxy.up()
    await seen_b.wait_for_event(ev(5))
    # B notices the numbering gap and tells its subscribers before the next event.
    assert seen_b.events == [before, resync("missed"), ev(4), ev(5)]


async def test_receivers_drop_duplicates_and_resync_on_gaps(
    redis_buses: Callable[..., Awaitable[RedisBus]], prefix: str
) -> None:
    """The wire format, as another instance would send it: ``{src, seq, event}``."""
    server = await redis_buses()
    seen = Recorder()
    server.subscribe(seen)
    admin = Redis.from_url(REDIS_URL)

    async def send(src: str, seq: int, event: Event) -> None:
        message = {"src": src, "seq": seq, "event": event.to_json()}
        await admin.publish(f"{prefix}events", orjson.dumps(message))

    try:
        await send("x", 1, ev(1))
        await send("x", 2, ev(2))
        await send("x", 2, ev(2))  # sent again after a failure that hid its success
        await send("x", 1, ev(1))
        await send("y", 7, ev(7, org="y"))  # first seen from y: no gap to speak of
        await send("x", 4, ev(4))  # 3 never arrived
        await admin.publish(f"{prefix}events", b"not json")  # ignored
        await send("x", 5, ev(5))
    finally:
        await admin.aclose()
    await seen.wait_for_event(ev(5))
    assert seen.events == [ev(1), ev(2), ev(7, org="y"), resync("missed"), ev(4), ev(5)]


async def test_a_silent_connection_is_detected_by_ping_and_replaced(
    redis_proxy: Proxy, redis_buses: Callable[..., Awaitable[RedisBus]]
) -> None:
    server_a = await redis_buses(
        url=f"redis://127.0.0.1:{redis_proxy.port}/0",
        timeout=0.5,
        ping_interval=0.1,
        backoff_max=0.2,
    )
    server_b = await redis_buses()
    seen_a = Recorder()
    server_a.subscribe(seen_a)
    lost = LogWaiter("lost the Redis subscription")
    with log_handler(lost):
        redis_proxy.freeze()  # no FIN, no RST: only the missing PONG tells
        await asyncio.wait_for(lost.seen.wait(), WAIT)
    assert not server_a.subscribed
    redis_proxy.thaw()
    await seen_a.wait_for(lambda r: resync("reconnected") in r.events)
    after = ev(1)
    await server_b.publish([after])
    await seen_a.wait_for_event(after)


async def test_an_event_that_cannot_be_serialized_makes_receivers_resync(
    redis_buses: Callable[..., Awaitable[RedisBus]], caplog: pytest.LogCaptureFixture
) -> None:
    server_a, server_b = await redis_buses(), await redis_buses()
    seen_b = Recorder()
    server_b.subscribe(seen_b)
    before = ev(0)
    await server_a.publish([before])
    await seen_b.wait_for_event(before)
    with caplog.at_level(logging.ERROR, logger="minibase.bus"):
        await server_a.publish([Event(org_id="o", kind=EventKind.FLOW, extra={"x": object()})])
    after = ev(2)
    await server_a.publish([after])
    await seen_b.wait_for_event(after)
    assert seen_b.events == [before, resync("missed"), after]
    assert any("not JSON" in r.message for r in caplog.records)


# -- wiring ----------------------------------------------------------------------------


async def test_build_bus_follows_the_settings(tmp_path: Any, prefix: str) -> None:
    assert isinstance(build_bus(Settings(data_dir=tmp_path)), InProcessBus)
    bus = build_bus(Settings(data_dir=tmp_path, redis_url=REDIS_URL, redis_prefix=prefix))
    assert isinstance(bus, RedisBus)
    assert bus.channel == f"{prefix}events"
    await bus.close()  # never started: nothing to stop, nothing raised


async def readyz(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.get("/readyz")


async def test_readyz_checks_redis_when_configured(tmp_path: Any, prefix: str) -> None:
    url = await redis_url_or_skip()
    response = await readyz(Settings(data_dir=tmp_path, redis_url=url, redis_prefix=prefix))
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_readyz_is_503_when_redis_is_unreachable(tmp_path: Any, prefix: str) -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    response = await readyz(Settings(data_dir=tmp_path, redis_url=url, redis_prefix=prefix))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
