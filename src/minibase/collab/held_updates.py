"""Editors' updates held back until what they build on has arrived.

A client's update can reach the server ahead of one it depends on: an edit made right
after a reconnect is sent before the sync step 2 that carries what the previous socket
lost, or it builds on items of another instance's editor that this instance has not
caught up with yet. yrs integrates such an update in part and keeps the rest pending,
and its events then misreport later changes (a replaced value counted as new, a key
left out; docs/collab.md, "Incremental"). So the room holds an update that is ahead and
integrates it once it follows: the document never waits on a missing predecessor.

:func:`order_of` tells where an update stands against a document without touching it:
what the update adds is applied to a *probe*, an empty document whose state vector is the
document's (every known clock collected, :func:`minibase.collab.rebase.collected_state`), and
whatever the probe cannot integrate is ahead.

:class:`HeldUpdates` keeps them, bounded in all, in bytes and per author (a socket); what
does not fit is integrated at once, as before (yrs keeps it pending). It releases them
through the room's own path for an editor's update: at once when asked
(:meth:`HeldUpdates.release`: after an update of a socket not in order yet, after a
catch-up), or in one pass within :data:`RELEASE_EVERY` (:meth:`HeldUpdates.release_soon`:
after in-order sockets' updates, which rarely are what a held one waits for).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pycrdt import Doc, get_update

from minibase.collab.flow_doc import refused_by_yrs
from minibase.collab.rebase import collected_state

log = logging.getLogger("minibase.collab")

Author = TypeVar("Author", bound=Hashable)


class Order(enum.Enum):
    """Where an update stands against a document."""

    NOTHING_NEW = "nothing new"
    """No struct the document lacks (a duplicate, or only deletions)."""
    FOLLOWS = "follows"
    """Everything it adds integrates now."""
    AHEAD = "ahead"
    """Some of what it adds builds on clocks or items the document does not have yet."""


def _has_structs(update: bytes) -> bool:
    """Whether a v1 update carries any struct (its first varuint counts the clients
    with structs; the delete set follows)."""
    return update[:1] != b"\x00"


def order_of(doc: Doc[Any], update: bytes, seed: bytes | None = None) -> Order:
    """Where ``update`` stands against ``doc`` (which is not changed).

    ``seed``: :func:`probe_seed` of ``doc`` when the caller checks several updates
    against one state. Raises what yrs raises for a malformed update.
    """
    state = doc.get_state()
    new = get_update(update, state)
    if not _has_structs(new):
        return Order.NOTHING_NEW
    probe: Doc[Any] = Doc()
    probe.apply_update(seed if seed is not None else collected_state(state))
    probe.apply_update(new)
    left = get_update(new, probe.get_state())
    return Order.AHEAD if _has_structs(left) else Order.FOLLOWS


def probe_seed(doc: Doc[Any]) -> bytes:
    """An update that gives an empty document ``doc``'s state vector, content collected."""
    return collected_state(doc.get_state())


def is_single_client(update: bytes) -> bool:
    """Whether ``update`` holds the structs of one client only (what an editor's own edit
    is; a sync step 2 usually holds many)."""
    return update[:1] == b"\x01"


RELEASE_EVERY = 0.05
"""Seconds between passes over the held updates started by :meth:`HeldUpdates.release_soon`."""


@dataclass(slots=True)
class _Held(Generic[Author]):
    author: Author
    update: bytes


class HeldUpdates(Generic[Author]):
    """Updates that are ahead, in the order they came, with their authors (sockets).

    ``integrate(author, update)`` is how a released update goes into the document (the
    room's path for an editor's update: rules, storage, broadcast).
    """

    def __init__(
        self,
        doc: Doc[Any],
        integrate: Callable[[Author, bytes], object],
        *,
        max_updates: int,
        max_bytes: int,
        max_per_author: int,
    ) -> None:
        self._doc = doc
        self._integrate = integrate
        self._held: list[_Held[Author]] = []
        self._bytes = 0
        self._max_updates = max_updates
        self._max_bytes = max_bytes
        self._max_per_author = max_per_author
        self._released_at = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._held)

    def admit(self, author: Author, update: bytes) -> Order | None:
        """Where ``update`` stands against the document; None when it is held instead.

        An update that is ahead is held when it holds one client's structs (an editor's
        own edit; a sync step 2 that is ahead goes on, as do updates over the bounds).
        Raises what yrs raises for a malformed update.
        """
        order = order_of(self._doc, update)
        if order is Order.AHEAD and is_single_client(update) and self.hold(author, update):
            return None
        return order

    def hold(self, author: Author, update: bytes) -> bool:
        """Keep ``update`` until it follows; False (nothing kept) when over a bound."""
        if (
            len(self._held) >= self._max_updates
            or self._bytes + len(update) > self._max_bytes
            or sum(held.author == author for held in self._held) >= self._max_per_author
        ):
            return False
        self._held.append(_Held(author, update))
        self._bytes += len(update)
        return True

    def ready(self) -> tuple[Author, bytes] | None:
        """Take out the first held update (in arrival order) that the document can
        integrate now, or that brings nothing new any more; None when each is ahead.

        A held update yrs refuses now (it took it when it came) is dropped and logged:
        it must not keep the others back.
        """
        if not self._held:
            return None
        seed = probe_seed(self._doc)
        index = 0
        while index < len(self._held):
            held = self._held[index]
            try:
                order = order_of(self._doc, held.update, seed)
            except BaseException as exc:
                if not refused_by_yrs(exc):
                    raise
                self._take(index)
                log.warning("collab: a held update was refused: %s", exc)
                continue
            if order is not Order.AHEAD:
                self._take(index)
                return held.author, held.update
            index += 1
        return None

    def release(self) -> None:
        """Integrate the held updates that follow now (each may release more)."""
        self._released_at = time.monotonic()
        while (ready := self.ready()) is not None:
            self._integrate(*ready)

    def release_soon(self) -> None:
        """:meth:`release` within :data:`RELEASE_EVERY`: one pass for many updates.

        For updates that are unlikely to be what a held one waits for (an in-order
        socket's): a pass after each would let held updates that never follow (up to
        the bounds) cost a pass per update of the room.
        """
        if self._timer is not None or not self._held:
            return
        delay = max(0.0, self._released_at + RELEASE_EVERY - time.monotonic())
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_time)

    def _on_time(self) -> None:
        self._timer = None
        self.release()

    def _take(self, index: int) -> None:
        held = self._held.pop(index)
        self._bytes -= len(held.update)

    def drop(self, author: Author) -> int:
        """Forget what ``author`` holds (its socket closed); how many updates that was."""
        kept = [held for held in self._held if held.author != author]
        dropped = len(self._held) - len(kept)
        self._held = kept
        self._bytes = sum(len(held.update) for held in kept)
        return dropped

    def close(self) -> int:
        """Forget everything held and stop a pending pass; how many updates were held."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dropped = len(self._held)
        self._held = []
        self._bytes = 0
        return dropped
