"""Waiting for an event with a timeout, in loops that must stop when cancelled."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; ``True`` when it was set.

    On Python 3.11, ``asyncio.timeout`` (and ``wait_for``) can turn a cancellation that
    arrives as the timeout expires into a ``TimeoutError``; a loop that suppresses that
    error then never stops (a shutdown that hangs). ``asyncio.wait`` with a timeout
    cancels nothing and swallows nothing, so a cancel always propagates.
    """
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()
    return bool(done)
