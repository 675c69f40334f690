"""Publish → delivery latency of the event bus, through Redis between two instances.

Two :class:`RedisBus` instances (two "servers" of one deployment, on a random prefix)
run in this process; A publishes, B's subscriber records when each event arrives. Three
runs of ``--events`` events each (after a warm-up):

- ``A -> B one by one``: publish one event, wait for B to receive it, publish the next
  (the latency a single edit sees);
- ``A -> A one by one``: the same, received by A itself (local subscribers also get their
  events through Redis);
- ``A -> B burst``: publish all events back to back (``publish`` returns at once), and
  measure each event's publish → delivery time and the throughput.

The in-process bus, measured the same way, gives the floor (queue + task hop).

    PYTHONPATH=src python -m bench.bus_latency [--redis-url URL] [--events 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import secrets
import statistics
import sys
import time

import redis

from minibase.domain.events import Event, EventBus
from minibase.realtime.bus import InProcessBus
from minibase.realtime.redis_bus import RedisBus


class Arrivals:
    """Records when each numbered event arrives; lets the bench wait for one."""

    def __init__(self) -> None:
        self.at: dict[int, int] = {}
        self._waiting: dict[int, asyncio.Future[None]] = {}

    async def __call__(self, event: Event) -> None:
        n = int(event.extra["n"])
        self.at[n] = time.perf_counter_ns()
        future = self._waiting.pop(n, None)
        if future is not None and not future.done():
            future.set_result(None)

    async def wait(self, n: int) -> None:
        if n in self.at:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiting[n] = future
        await asyncio.wait_for(future, 10)


def event(n: int) -> Event:
    return Event(org_id="org_bench", kind="flow", ids=("flow_1",), version=n, extra={"n": n})


def percentiles(samples_ns: list[int]) -> str:
    ms = sorted(s / 1e6 for s in samples_ns)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return f"p50 {q[49]:.3f} ms  p99 {q[98]:.3f} ms  max {ms[-1]:.3f} ms  (n={len(ms)})"


async def one_by_one(publisher: EventBus, arrivals: Arrivals, start: int, count: int) -> list[int]:
    samples = []
    for n in range(start, start + count):
        sent = time.perf_counter_ns()
        await publisher.publish([event(n)])
        await arrivals.wait(n)
        samples.append(arrivals.at[n] - sent)
    return samples


async def burst(
    publisher: EventBus, arrivals: Arrivals, start: int, count: int
) -> tuple[list[int], float]:
    sent: dict[int, int] = {}
    began = time.perf_counter_ns()
    for n in range(start, start + count):
        sent[n] = time.perf_counter_ns()
        await publisher.publish([event(n)])
    await arrivals.wait(start + count - 1)
    elapsed = (time.perf_counter_ns() - began) / 1e9
    return [arrivals.at[n] - sent[n] for n in sent], count / elapsed


async def main(redis_url: str, count: int) -> None:
    warmup = 100
    memory = InProcessBus()
    await memory.start()
    seen_memory = Arrivals()
    memory.subscribe(seen_memory)
    await one_by_one(memory, seen_memory, 0, warmup)
    floor = await one_by_one(memory, seen_memory, warmup, count)
    await memory.close()

    prefix = f"minibase-bench:{secrets.token_hex(4)}:"
    server_a, server_b = RedisBus(redis_url, prefix), RedisBus(redis_url, prefix)
    await server_a.start()
    await server_b.start()
    try:
        seen_a, seen_b = Arrivals(), Arrivals()
        server_a.subscribe(seen_a)
        server_b.subscribe(seen_b)
        n = 0
        await one_by_one(server_a, seen_b, n, warmup)
        n += warmup
        a_to_b = await one_by_one(server_a, seen_b, n, count)
        n += count
        await seen_a.wait(n - 1)
        a_to_a = await one_by_one(server_a, seen_a, n, count)
        n += count
        await seen_b.wait(n - 1)
        burst_samples, rate = await burst(server_a, seen_b, n, count)
    finally:
        await server_a.close()
        await server_b.close()

    info = redis.Redis.from_url(redis_url).info("server")
    print(
        f"event bus latency, {count} events each; Python {platform.python_version()}, "
        f"redis-py {redis.__version__}, Redis {info['redis_version']} at {redis_url}"
    )
    print(f"  in process, one by one   {percentiles(floor)}")
    print(f"  Redis A -> B, one by one {percentiles(a_to_b)}")
    print(f"  Redis A -> A, one by one {percentiles(a_to_a)}")
    print(f"  Redis A -> B, burst      {percentiles(burst_samples)}  {rate:,.0f} events/s")
    print(
        f"reproduce: PYTHONPATH=src {sys.executable} -m bench.bus_latency "
        f"--redis-url {redis_url} --events {count}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.redis_url, args.events))
