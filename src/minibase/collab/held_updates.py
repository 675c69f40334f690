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

:class:`HeldUpdates` keeps them, bounded per room and per author: an author can only hold
back its own updates, and what does not fit is integrated at once, as before (yrs keeps
it pending).
"""

from __future__ import annotations

import enum
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pycrdt import Doc, get_update

from minibase.collab.rebase import collected_state

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
    new = get_update(update, doc.get_state())
    if not _has_structs(new):
        return Order.NOTHING_NEW
    probe: Doc[Any] = Doc()
    probe.apply_update(seed if seed is not None else probe_seed(doc))
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


@dataclass(slots=True)
class _Held(Generic[Author]):
    author: Author
    update: bytes


class HeldUpdates(Generic[Author]):
    """Updates that are ahead, in the order they came, with their authors (sockets)."""

    def __init__(self, *, max_updates: int, max_bytes: int, max_per_author: int) -> None:
        self._held: list[_Held[Author]] = []
        self._bytes = 0
        self._max_updates = max_updates
        self._max_bytes = max_bytes
        self._max_per_author = max_per_author

    def __len__(self) -> int:
        return len(self._held)

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

    def ready(self, doc: Doc[Any]) -> tuple[Author, bytes] | None:
        """Take out the first held update (in arrival order) that ``doc`` can integrate
        now, or that brings nothing new any more; None when each is still ahead.

        The caller integrates it and asks again: what it adds may release more.
        Raises what yrs raises for a malformed update (the held one stays out).
        """
        if not self._held:
            return None
        seed = probe_seed(doc)
        for index, held in enumerate(self._held):
            try:
                order = order_of(doc, held.update, seed)
            except BaseException:
                self._take(index)
                raise
            if order is not Order.AHEAD:
                self._take(index)
                return held.author, held.update
        return None

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

    def clear(self) -> int:
        """Forget everything held; how many updates that was."""
        dropped = len(self._held)
        self._held = []
        self._bytes = 0
        return dropped
