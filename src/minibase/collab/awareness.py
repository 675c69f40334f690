"""The awareness relay of a room: presence states, relayed and expired, within limits.

Awareness updates are relayed to every client (sender included; the stock client treats
30 s of silence as a dead connection), coalesced per event-loop turn (the newest state
per Yjs client id wins). The relay remembers which socket announced which client ids and
broadcasts their removal when the socket leaves or a state is not renewed within the
timeout. Awareness never enters the document.

Limits, per socket (:class:`~minibase.collab.options.CollabOptions`):

- **Ownership.** A socket speaks only for the client ids it announced first; an entry for
  an id another open socket owns is dropped (nobody overwrites someone else's presence).
- **Count.** At most ``awareness_max_clients`` ids per socket; entries for more are dropped.
- **Size.** A state over ``awareness_max_state_bytes`` is dropped, and a frame longer than
  what that many states can take is dropped undecoded.
- **Rate.** ``awareness_per_second`` frames (bursts of twice that); beyond it, the newest
  state per id is held and relayed when the socket is within its rate again.

So what one socket makes the server keep and send is bounded, whatever it sends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from minibase.collab import protocol
from minibase.collab.client import Client
from minibase.collab.options import CollabOptions
from minibase.logs import detached

log = logging.getLogger("minibase.collab")

_ENTRY_OVERHEAD = 3 * 10
"""Most bytes of an entry besides its state: three varuints."""


@dataclass(slots=True)
class _State:
    clock: int
    state: str
    seen: float
    owner: Client | None


class _Budget:
    """A socket's token bucket of awareness frames."""

    __slots__ = ("held", "release", "stamp", "tokens")

    def __init__(self, burst: float) -> None:
        self.tokens = burst
        self.stamp = time.monotonic()
        self.held: dict[int, protocol.AwarenessEntry] = {}
        self.release: asyncio.TimerHandle | None = None

    def take(self, rate: float, burst: float) -> bool:
        now = time.monotonic()
        self.tokens = min(burst, self.tokens + (now - self.stamp) * rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class AwarenessRelay:
    """The awareness states of one room's clients."""

    def __init__(self, clients: set[Client], options: CollabOptions) -> None:
        self._clients = clients
        self._timeout = options.awareness_timeout
        self._max_clients = options.awareness_max_clients
        self._max_state = options.awareness_max_state_bytes
        self._max_frame = (
            options.awareness_max_clients * (options.awareness_max_state_bytes + _ENTRY_OVERHEAD)
            + 10
        )
        self._rate = options.awareness_per_second
        self._burst = 2 * options.awareness_per_second
        self._states: dict[int, _State] = {}
        self._owned: dict[Client, set[int]] = {}
        self._budgets: dict[Client, _Budget] = {}
        self._out: dict[int, protocol.AwarenessEntry] = {}
        self._flush_scheduled = False
        self._expiry: asyncio.Task[None] | None = None

    def join(self, client: Client) -> None:
        """Send ``client`` the current states; expire stale ones while clients are here."""
        if self._states:
            client.send(protocol.awareness_message(self._encode()))
        if self._expiry is None:
            self._expiry = asyncio.create_task(
                self._expire(), name="collab-awareness", context=detached()
            )

    def leave(self, client: Client) -> None:
        """Remove the states ``client`` announced (``client`` has left the room's set)."""
        budget = self._budgets.pop(client, None)
        if budget is not None and budget.release is not None:
            budget.release.cancel()
        self._remove(sorted(self._owned.pop(client, ())))
        if not self._clients:
            self.close()

    def query(self, client: Client) -> None:
        """Answer a query-awareness message."""
        client.send(protocol.awareness_message(self._encode()))

    def receive(self, client: Client, update: bytes) -> None:
        if len(update) > self._max_frame:
            log.info("collab: awareness frame over the limit dropped", extra={"bytes": len(update)})
            return
        entries = [e for e in protocol.decode_awareness_update(update) if self._admit(client, e)]
        if not entries:
            return
        budget = self._budgets.get(client)
        if budget is None:
            budget = self._budgets[client] = _Budget(self._burst)
        if budget.held or not budget.take(self._rate, self._burst):
            for entry in entries:  # over the rate: keep the newest, relay it later
                budget.held[entry.client_id] = entry
            if budget.release is None:
                delay = max(0.0, (1 - budget.tokens) / self._rate)
                loop = asyncio.get_running_loop()
                budget.release = loop.call_later(delay, self._release, client)
            return
        self._accept(client, entries)

    def _admit(self, client: Client, entry: protocol.AwarenessEntry) -> bool:
        """Whether ``client`` may speak for ``entry``'s id, with a state of that size.

        A new id within the socket's count becomes the socket's at once, so the count
        holds within one frame too.
        """
        if not entry.removed and len(entry.state.encode("utf-8")) > self._max_state:
            return False
        owned = self._owned.setdefault(client, set())
        if entry.client_id in owned:
            return True
        current = self._states.get(entry.client_id)
        owner = current.owner if current is not None else None
        if owner is not None and owner is not client and not owner.closed:
            return False  # another open socket's presence
        if len(owned) >= self._max_clients:
            return False
        owned.add(entry.client_id)  # announced: this socket's from now on
        return True

    def _release(self, client: Client) -> None:
        budget = self._budgets.get(client)
        if budget is None:
            return
        budget.release = None
        if not budget.held:
            return
        if not budget.take(self._rate, self._burst):
            loop = asyncio.get_running_loop()
            budget.release = loop.call_later(1 / self._rate, self._release, client)
            return
        entries, budget.held = list(budget.held.values()), {}
        self._accept(client, [e for e in entries if self._admit(client, e)])

    def _accept(self, client: Client, entries: list[protocol.AwarenessEntry]) -> None:
        now = time.monotonic()
        owned = self._owned.setdefault(client, set())
        for entry in entries:
            current = self._states.get(entry.client_id)
            if current is not None and entry.clock < current.clock:
                continue
            if current is not None and current.owner is not None and current.owner is not client:
                self._owned.get(current.owner, set()).discard(entry.client_id)
            if entry.removed:
                self._states.pop(entry.client_id, None)
                owned.discard(entry.client_id)
            else:
                self._states[entry.client_id] = _State(entry.clock, entry.state, now, client)
                owned.add(entry.client_id)
            self._out[entry.client_id] = entry
        self._schedule_flush()

    def _remove(self, client_ids: list[int]) -> None:
        for cid in client_ids:
            state = self._states.pop(cid, None)
            if state is not None:
                if state.owner is not None:
                    self._owned.get(state.owner, set()).discard(cid)
                self._out[cid] = protocol.AwarenessEntry(cid, state.clock + 1, "null")
        if client_ids:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self._out:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        entries, self._out = list(self._out.values()), {}
        if not entries:
            return
        frame = protocol.awareness_message(protocol.encode_awareness_update(entries))
        for client in self._clients:
            client.send(frame)

    def _encode(self) -> bytes:
        return protocol.encode_awareness_update(
            [protocol.AwarenessEntry(cid, st.clock, st.state) for cid, st in self._states.items()]
        )

    async def _expire(self) -> None:
        while True:
            await asyncio.sleep(self._timeout / 10)
            limit = time.monotonic() - self._timeout
            self._remove([c for c, st in self._states.items() if st.seen < limit])

    def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for budget in self._budgets.values():
            if budget.release is not None:
                budget.release.cancel()
        self._budgets.clear()
