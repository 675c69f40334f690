"""Rebasing a flow's Yjs document: the same content without its editing history.

Yjs keeps one item per overwritten map value: ten clients taking turns dragging one node
leave about 12 bytes per drag in the encoded state, even after compaction, because an
item's successor names it as its origin (so the items cannot be garbage-collected into
ranges). A long-lived flow therefore grows without bound. :func:`rebase` returns a state
that holds only what the flow is now, written afresh, and tells every Yjs peer that the
old history is gone, in terms standard Yjs clients already understand:

- every ``(client, clock)`` range of the old document becomes a *GC range* (the encoding
  Yjs itself uses for collected content: a client id, a start and a length), and the same
  ranges go into the delete set. Clocks stay contiguous, so a client that knew the old
  document keeps writing with its old client id and clock; an old client that receives
  the new state deletes all its old items;
- the content is written by a new client id greater than every old one (at least 2**32,
  above the uint32 ids Yjs clients draw; yrs clients draw below 2**53, JavaScript's
  largest safe integer), each root entry with no origin: on a client that
  still holds the old items of an entry, YATA orders such an item after all of them, so
  it becomes the entry's value there too, and the two converge.

What a client does *offline* against the old document and sends after the rebase: a new
entry (a node or an edge it added) is kept; a change to an entry that existed before the
rebase refers to items the new document no longer has and is dropped on both sides
(Yjs drops an item whose origin was collected). So the server rebases only a room
nobody has open, and only on an instance that knows no other instance holds the room
(see docs/collab.md, "Compaction").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from pycrdt import Array, Doc, Map, Text

from minibase.collab.protocol import Decoder, write_varuint

log = logging.getLogger("minibase.collab")

ROOTS = ("nodes", "edges", "meta")
"""The flow's root types (the rules keep every other root empty)."""

FIRST_WRITER = 2**32
"""The lowest client id the rebased content is written by (above any uint32 id)."""

_MAX_WRITER = 2**53 - 1
"""JavaScript's largest safe integer: client ids above it would not survive in Yjs."""


class NotRebasable(ValueError):
    """The document holds something a rebase would not carry over."""


def state_vector(doc: Doc[Any]) -> dict[int, int]:
    """The document's state vector: client id → its next clock."""
    return state_vector_of(doc.get_state())


def state_vector_of(state: bytes) -> dict[int, int]:
    """An encoded state vector, decoded: client id → its next clock."""
    decoder = Decoder(state)
    return {decoder.read_varuint(): decoder.read_varuint() for _ in range(decoder.read_varuint())}


def collected(ranges: dict[int, int]) -> bytes:
    """A Yjs update (v1) in which each client's clocks ``[0, n)`` are collected and
    deleted: one GC struct and one delete range per client."""
    out = bytearray()
    clients = sorted((c, n) for c, n in ranges.items() if n > 0)
    write_varuint(out, len(clients))
    for client, length in clients:
        write_varuint(out, 1)  # one struct
        write_varuint(out, client)
        write_varuint(out, 0)  # from clock 0
        out.append(0)  # a GC struct (Yjs's ref number 0)
        write_varuint(out, length)
    write_varuint(out, len(clients))
    for client, length in clients:
        write_varuint(out, client)
        write_varuint(out, 1)  # one range
        write_varuint(out, 0)
        write_varuint(out, length)
    return bytes(out)


_VARUINT = re.compile(rb"[\x80-\xff]*[\x00-\x7f]", re.DOTALL)
"""One lib0 varuint: bytes with the high bit set, then one without."""


def collected_state(state: bytes) -> bytes:
    """:func:`collected` of an encoded state vector (``Doc.get_state()``), spliced from
    its varuints without decoding them (0.4 ms instead of 3.1 for 1,000 clients here).

    yrs writes no client with clock 0 into a state vector, so each gets its range."""
    tokens: list[bytes] = _VARUINT.findall(state)
    if not tokens or len(tokens) % 2 == 0 or b"\x00" in tokens[2::2]:
        return collected(state_vector_of(state))  # not yrs's shape: the plain way
    count, clients, clocks = tokens[0], tokens[1::2], tokens[2::2]
    structs = b"".join(
        b"\x01" + client + b"\x00\x00" + clock
        for client, clock in zip(clients, clocks, strict=True)
    )
    deletes = b"".join(
        client + b"\x01\x00" + clock for client, clock in zip(clients, clocks, strict=True)
    )
    return count + structs + count + deletes


def rebase(state: bytes) -> bytes:
    """``state`` (a full Yjs update of a flow) with the same content and no history.

    Raises :class:`NotRebasable` if the document has content outside the flow's roots
    or a shared type this copy does not carry over (its content would be lost)."""
    old: Doc[Any] = Doc()
    old.apply_update(state)
    unknown = set(old.keys()) - set(ROOTS)
    roots = {name: old.get(name, type=Map) for name in ROOTS}
    if unknown:
        raise NotRebasable(f"root types other than the flow's: {sorted(unknown)}")
    history = state_vector(old)
    writer = max([FIRST_WRITER - 1, *history]) + 1
    if writer > _MAX_WRITER:
        raise NotRebasable("no client id left above the old ones")
    new: Doc[Any] = Doc(client_id=writer)
    new.apply_update(collected(history))
    with new.transaction():
        for name, source in roots.items():
            target = new.get(name, type=Map)
            for key, value in source.items():
                target[key] = _copy(value)
    return new.get_update()


def _copy(value: Any) -> Any:
    """A fresh, unintegrated copy of ``value`` in the same form (shared or plain)."""
    if isinstance(value, Map):
        return Map({key: _copy(item) for key, item in value.items()})
    if isinstance(value, Array):
        return Array([_copy(item) for item in value])
    if isinstance(value, Text):
        if value.diff() != [(str(value), None)] and str(value):
            raise NotRebasable("formatted text")
        return Text(str(value))
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return value
    raise NotRebasable(f"a shared type this copy does not carry: {type(value).__name__}")


def rebaser(over_bytes: int) -> Callable[[bytes], bytes | None]:
    """The compaction's rebase step: a state larger than ``over_bytes`` is rebased when
    that at least halves it (``None``: keep the state as it is)."""

    def rebase_if_worth_it(state: bytes) -> bytes | None:
        if len(state) <= over_bytes:
            return None
        try:
            rebased = rebase(state)
        except Exception as exc:  # noqa: BLE001 - a rebase is optional: the state stays
            log.warning("collab rebase skipped: %s", exc)
            return None
        return rebased if len(rebased) * 2 <= len(state) else None

    return rebase_if_worth_it
