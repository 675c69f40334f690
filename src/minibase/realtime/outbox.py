"""What waits to be sent on one ``/v1/sync`` socket, bounded in frames and in bytes.

A client that reads slowly must not make the server hold what it has not read yet:

- **Latest value only.** A result for a subscription replaces the one still waiting for
  it (a client that is behind skips straight to the newest value, never a backlog of
  stale ones); other frames (errors, pongs) queue in order.
- **Bounded.** A socket holds at most ``MINIBASE_SYNC_QUEUE_LIMIT`` frames and
  ``MINIBASE_SYNC_QUEUE_BYTES`` bytes; all the sockets of one user or API key together at
  most ``MINIBASE_SYNC_USER_QUEUE_BYTES``. A frame that would pass a bound closes the
  socket with 4008 (too far behind) instead of being kept.
- **Released.** Closing a socket drops what it held and gives its bytes back to its
  user's budget at once.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class UserBudget:
    """Bytes queued by every socket of each principal (one per hub)."""

    limit: int
    used: dict[str, int] = field(default_factory=dict)

    def total(self) -> int:
        return sum(self.used.values())


class Overflow(Exception):
    """A frame would pass a bound: the socket must close (4008)."""


class Outbox:
    def __init__(self, owner: str, budget: UserBudget, *, max_frames: int, max_bytes: int) -> None:
        self.owner = owner
        self.budget = budget
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.bytes = 0
        self._frames: OrderedDict[object, str] = OrderedDict()
        self._ready = asyncio.Event()
        self._ended = False
        self._unique = itertools.count()

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, text: str, key: str | None = None) -> None:
        """Queue ``text``; with ``key`` (a subscription id), replacing the frame of that key
        still waiting. Raises :class:`Overflow` when a bound would be passed."""
        slot: object = ("sub", key) if key is not None else ("frame", next(self._unique))
        size = len(text)
        replaced = len(self._frames[slot]) if slot in self._frames else 0
        grow = size - replaced
        user_used = self.budget.used.get(self.owner, 0)
        if (
            (replaced == 0 and len(self._frames) >= self.max_frames)
            or self.bytes + grow > self.max_bytes
            or user_used + grow > self.budget.limit
        ):
            raise Overflow
        self._frames[slot] = text
        self.bytes += grow
        self.budget.used[self.owner] = user_used + grow
        self._ready.set()

    async def get(self) -> str | None:
        """The next frame to send, or None once the outbox has ended."""
        while not self._frames:
            if self._ended:
                return None
            self._ready.clear()
            await self._ready.wait()
        _, text = self._frames.popitem(last=False)
        self._release(len(text))
        return text

    def end(self) -> None:
        """Drop everything still queued (its bytes go back at once) and end the outbox."""
        self._release(self.bytes)
        self._frames.clear()
        self._ended = True
        self._ready.set()

    def _release(self, size: int) -> None:
        self.bytes -= size
        left = self.budget.used.get(self.owner, 0) - size
        if left > 0:
            self.budget.used[self.owner] = left
        else:
            self.budget.used.pop(self.owner, None)
