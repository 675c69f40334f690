"""The event bus of a deployment of several instances: Redis pub/sub on one channel.

Every instance publishes its events to ``{prefix}events`` and delivers what it reads
there, **its own events included**: an instance does not short-cut its own events to
its subscribers. So every instance of a deployment sees the same sequence of events, the
order Redis received them in (which keeps each publisher's order), through one
subscription and no echo filtering. The price is one Redis round trip for local
subscribers too (a fraction of a millisecond, see ``docs/realtime.md``).

Each message is ``{"src": instance id, "seq": n, "event": {...}}``: every bus numbers
what it publishes 1, 2, 3... That makes delivery exactly once although sending is at
least once, and lets receivers notice losses by themselves:

- ``publish`` never waits for Redis and never raises: it appends to a bounded outbox
  that one task sends, in order, in pipelined batches. When a batch fails (Redis down,
  connection cut), the task waits for Redis with exponential backoff and sends the batch
  again, with whatever was published meanwhile. Receivers drop a ``seq`` they have already
  seen, so a batch that partly reached Redis is not delivered twice.
- When the outbox is full (Redis down for long), the oldest events are dropped; a
  receiver that then sees ``seq`` jump delivers the resync signal
  (:func:`~minibase.domain.events.resync`, reason ``missed``) before the next event.
- When the subscription itself is lost (connection cut, Redis restarted, no answer to
  PING), the listener reconnects on its own, with backoff and jitter, and once Redis
  confirms the new subscription delivers a resync (reason ``reconnected``): what was
  published in between is gone, since Redis pub/sub keeps nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections import deque
from collections.abc import Sequence

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from minibase.domain.events import Event, resync
from minibase.errors import ServiceUnavailable
from minibase.realtime.bus import DEFAULT_MAX_PENDING, FanoutBus, background, cancel_and_wait

log = logging.getLogger("minibase.bus")

# What a lost or refused Redis connection raises: redis-py's errors (its TimeoutError
# included), OS-level socket errors and our own asyncio timeouts.
REDIS_FAILURES = (RedisError, OSError, TimeoutError)

MAX_BATCH = 1000  # PUBLISH commands sent in one pipeline


class RedisBus(FanoutBus):
    """Fans events out to every instance that shares ``url`` and ``prefix``."""

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        timeout: float = 5.0,
        ping_interval: float = 5.0,
        backoff_min: float = 0.05,
        backoff_max: float = 5.0,
        max_buffered: int = 10_000,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        super().__init__(max_pending=max_pending)
        self.channel = f"{prefix}events"
        self.instance_id = secrets.token_hex(4)
        # Named so `CLIENT LIST` shows which connections are this bus's.
        self.client_name = f"minibase-bus-{self.instance_id}"
        self._timeout = timeout
        self._ping_interval = ping_interval
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._max_buffered = max_buffered
        # No retries inside redis-py: a resent PUBLISH could be delivered twice, and the
        # listener must see every disconnection to announce a resync.
        self._redis: Redis = Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            socket_keepalive=True,
            client_name=self.client_name,
        )
        self._seq = 0  # of the last event this bus published
        self._outbox: deque[bytes] = deque()
        self._outbox_ready = asyncio.Event()
        self._dropped = 0  # events dropped from the outbox since the last successful send
        self._last_seq: dict[str, int] = {}  # per publishing instance, last delivered
        self._subscribed = False
        self._closing = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None

    @property
    def subscribed(self) -> bool:
        """Whether this instance is receiving the deployment's events right now."""
        return self._subscribed

    async def start(self) -> None:
        """Subscribe (waiting for Redis to confirm) and start the background tasks.

        When Redis is unreachable, logs it and keeps trying in the background; the
        first successful subscription then delivers a resync.
        """
        await super().start()
        if self._listener is not None:
            return
        pubsub = await self._subscribe()
        self._listener = background(self._listen(pubsub), "RedisBus.listen")
        self._publisher = background(self._publish_forever(), "RedisBus.publish")

    async def close(self) -> None:
        """Send what waits in the outbox (for up to ``timeout``), then stop everything."""
        if self._closing.is_set():
            return
        self._closing.set()
        if self._publisher is not None:
            self._outbox_ready.set()
            await asyncio.wait({self._publisher}, timeout=self._timeout)
            await cancel_and_wait(self._publisher)
        # Bounded: redis-py finishes a subscription's teardown even when cancelled, and
        # CI once saw that teardown never end.
        if self._listener is not None and not await cancel_and_wait(self._listener, self._timeout):
            log.warning("the Redis listener did not stop in time; left behind")
        await super().close()
        await self._redis.aclose()

    async def publish(self, events: Sequence[Event]) -> None:
        if self._closing.is_set():
            log.warning("events published after the bus closed were dropped")
            return
        for event in events:
            # The number is taken even when the event cannot be sent, so that receivers
            # see the gap and resync.
            self._seq += 1
            try:
                body = event.to_json()
                payload = orjson.dumps({"src": self.instance_id, "seq": self._seq, "event": body})
            except TypeError:
                log.exception("dropped an event that is not JSON", extra={"kind": event.kind})
                continue
            self._outbox.append(payload)
        self._trim_outbox()
        self._outbox_ready.set()

    def _trim_outbox(self) -> None:
        """Drop the oldest events beyond ``max_buffered`` (receivers will see the gap)."""
        excess = len(self._outbox) - self._max_buffered
        if excess <= 0:
            return
        for _ in range(excess):
            self._outbox.popleft()
        if not self._dropped:  # once per outage, not once per publish
            log.warning("Redis outbox full: dropping the oldest events; receivers will resync")
        self._dropped += excess

    async def ping(self) -> None:
        """Readiness: Redis answers and this instance is subscribed."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.ping()
        except REDIS_FAILURES as exc:
            raise ServiceUnavailable("Redis does not answer.", {"service": "redis"}) from exc
        if not self._subscribed or self._listener is None or self._listener.done():
            raise ServiceUnavailable(
                "The event bus is not receiving events from Redis.", {"service": "redis"}
            )

    # -- receiving ---------------------------------------------------------------------

    async def _subscribe(self) -> PubSub | None:
        """A subscription Redis has confirmed, or ``None`` (logged) when it failed."""
        pubsub = self._redis.pubsub()
        confirmed = False
        try:
            async with asyncio.timeout(self._timeout):
                await pubsub.subscribe(self.channel)
                while not confirmed:
                    message = await pubsub.get_message(timeout=None)
                    confirmed = message is not None and message["type"] == "subscribe"
        except REDIS_FAILURES as exc:
            log.warning("cannot subscribe to Redis", extra={"error": repr(exc)})
            return None
        finally:
            if not confirmed:
                await _close(pubsub)
        self._subscribed = True
        return pubsub

    async def _listen(self, pubsub: PubSub | None) -> None:
        delay = self._backoff_min
        while True:
            if pubsub is not None:
                try:
                    await self._receive(pubsub)
                except REDIS_FAILURES as exc:
                    log.warning("lost the Redis subscription", extra={"error": repr(exc)})
                finally:
                    self._subscribed = False
                    await _close(pubsub)
            await self._pause(delay)
            delay = min(delay * 2, self._backoff_max)
            pubsub = await self._subscribe()
            if pubsub is not None:
                delay = self._backoff_min
                log.info("subscribed to Redis again; subscribers will resync")
                self._deliver_later(resync("reconnected"))

    async def _receive(self, pubsub: PubSub) -> None:
        """Deliver messages until the connection fails (silence is checked with PING)."""
        awaiting_pong = False
        while True:
            message = await pubsub.get_message(timeout=self._ping_interval)
            if message is None:
                if awaiting_pong:
                    raise RedisConnectionError("Redis did not answer PING")
                await pubsub.ping()
                awaiting_pong = True
                continue
            awaiting_pong = False
            if message["type"] == "message":
                self._receive_payload(message["data"])

    def _receive_payload(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
            source, seq = str(message["src"]), int(message["seq"])
            event = Event.from_json(message["event"])
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("ignored a malformed message on the channel", extra={"size": len(data)})
            return
        last = self._last_seq.get(source)
        if last is not None:
            if seq <= last:
                return  # sent again after a failure that hid its first success
            if seq > last + 1:
                log.warning(
                    "missed events from another instance; subscribers will resync",
                    extra={"source": source, "missed": seq - last - 1},
                )
                self._deliver_later(resync("missed"))
        self._last_seq[source] = seq
        self._deliver_later(event)

    # -- publishing --------------------------------------------------------------------

    async def _publish_forever(self) -> None:
        while True:
            if not self._outbox:
                if self._closing.is_set():
                    return
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
                continue
            batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), MAX_BATCH))]
            try:
                await self._send(batch)
            except REDIS_FAILURES as exc:
                log.warning(
                    "cannot publish to Redis; will send again when it answers",
                    extra={"events": len(batch), "error": repr(exc)},
                )
                self._outbox.extendleft(reversed(batch))
                self._trim_outbox()
                if not await self._wait_until_reachable():
                    log.warning(
                        "bus closed while Redis was unreachable; events dropped",
                        extra={"events": len(self._outbox)},
                    )
                    return
                continue
            if self._dropped:
                log.warning(
                    "Redis answers again; events were dropped meanwhile",
                    extra={"dropped": self._dropped},
                )
                self._dropped = 0

    async def _send(self, batch: list[bytes]) -> None:
        async with asyncio.timeout(self._timeout), self._redis.pipeline(transaction=False) as pipe:
            for payload in batch:
                pipe.publish(self.channel, payload)
            await pipe.execute()

    async def _wait_until_reachable(self) -> bool:
        """Wait, with backoff, until Redis answers PING; ``False`` if the bus closes first."""
        delay = self._backoff_min
        while not self._closing.is_set():
            await self._pause(delay)
            delay = min(delay * 2, self._backoff_max)
            try:
                async with asyncio.timeout(self._timeout):
                    await self._redis.ping()
            except REDIS_FAILURES:
                continue
            return True
        return False

    async def _pause(self, delay: float) -> None:
        """Sleep about ``delay`` seconds (with jitter), less if the bus closes."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay * random.uniform(0.5, 1.0)):
                await self._closing.wait()


async def _close(pubsub: PubSub) -> None:
    await pubsub.aclose()
