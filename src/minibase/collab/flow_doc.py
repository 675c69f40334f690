"""A flow as a Yjs document (pycrdt), and its materialized JSON form kept incrementally.

Layout (the contract's): ``doc.get("nodes", type=Map)`` maps node id → a ``Y.Map`` (``id``,
``type``, ``position`` as a plain ``{x, y}``, ``data`` as a ``Y.Map``, other React Flow
fields) or a plain JSON object taken as one unit; ``"edges"`` likewise; ``"meta"`` holds
``name`` (and nothing else: the rules remove other keys and empty other root types).

Materialization is incremental: an ``observe_deep`` subscription only records which entry
ids a transaction touched; :meth:`FlowDoc.refresh` re-reads just those entries (a small
``to_py`` each) and keeps a per-entry cache of the plain value and its serialized size.

Order: ``nodes`` and ``edges`` come out in a stable, deterministic order: the order of the
flow JSON the document was seeded with or last written from REST (:meth:`apply_flow`,
:meth:`set_order`), then entries added over Yjs in the order the server integrated them.
Entries added by one transaction are appended sorted by id. A room
loaded from stored Yjs state takes the order of the REST flow as its hint; entries the
hint does not name follow, sorted by id.

Numbers: Yjs stores every JSON number as a double; integral values come out as ``int``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from pycrdt import Array, Doc, Map, Subscription, Transaction, TransactionEvent

from minibase.domain.collab import Entry
from minibase.domain.flow_json import FlowJSON

JSON = Any

_MAX_SAFE_INT = 2**53


def plain(value: Any) -> JSON:
    """A pycrdt value as plain JSON: ``Map`` → dict, integral doubles → int."""
    if isinstance(value, Map):
        value = value.to_py()
    return _normalize(value)


def _normalize(value: Any) -> JSON:
    if isinstance(value, float):
        if value.is_integer() and abs(value) <= _MAX_SAFE_INT:
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(v) for v in value]
    if isinstance(value, Map):
        return plain(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    # Other shared types (Y.Array, Y.Text, ...) inside an entry: their plain form.
    to_py = getattr(value, "to_py", None)
    return _normalize(to_py()) if callable(to_py) else str(value)


def refused_by_yrs(exc: BaseException) -> bool:
    """Whether ``exc`` is yrs refusing an update (a malformed one): a ``ValueError`` or
    ``RuntimeError``, or a panic while committing, which pyo3 raises as a
    ``PanicException`` (a ``BaseException``)."""
    return isinstance(exc, ValueError | RuntimeError) or type(exc).__name__ == "PanicException"


EMPTY_UPDATE = b"\x00\x00"
"""The Yjs update of a transaction that changed nothing."""

UNREPRESENTABLE = "<unrepresentable>"
"""The cached value of an entry JSON or a database cannot carry (nested too deep, an
integer over 64 bits, a lone surrogate, a NUL character): never materialized, and a
malformed entry for the rules."""

ROOTS = frozenset({"nodes", "edges", "meta"})
"""The document's root types; any other root is foreign (the rules empty it)."""

META_KEYS = frozenset({"name"})
"""The keys ``meta`` may hold; the rules remove any other."""

_ENVELOPE = len(b'{"name":,"nodes":[],"edges":[]}')


def _size(value: JSON) -> int:
    """Bytes ``value`` takes in the flow JSON, its separating comma included."""
    return len(orjson.dumps(value)) + 1


def has_nul(value: Any) -> bool:
    """Whether a NUL character is in any string or key of ``value`` (plain JSON): what
    REST refuses at its door (``http/input_guard``) and PostgreSQL cannot store."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            if any("\x00" in key for key in item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _plain_or_unrepresentable(value: Any) -> JSON:
    try:
        new_value = plain(value)
        encoded = orjson.dumps(new_value)
    except (RecursionError, orjson.JSONEncodeError):
        return UNREPRESENTABLE
    # JSON writes a NUL as \u0000: without that in the text there is none to look for
    # (the walk took a seventh of a drag's refresh, 7.1 -> 6.1 us).
    if b"\\u0000" in encoded and has_nul(new_value):
        return UNREPRESENTABLE
    return new_value


Dirty = dict[str, set[str] | None]
"""Entries to refresh: the top-level keys of each that changed, or ``None`` for all."""


def _refreshed(old: JSON, value: Any, parts: set[str] | None, read: Reader) -> JSON:
    """The plain value of an entry whose keys ``parts`` changed (``None``: any of them).

    A drag changes one key of one node: only that key is read from the document and
    checked, and the rest of the cached value is kept, so an update costs what it
    touched, not the size of its node. Whatever this cannot show equal to reading the
    whole entry (no cached dict, a plain-object entry, a part that does not pass the
    checks) reads the whole entry.
    """
    if parts is None or not isinstance(old, dict) or not isinstance(value, Map):
        return _plain_or_unrepresentable(value)
    new = dict(old)
    for part in parts:
        if "\x00" in part:
            return _plain_or_unrepresentable(value)
        raw = read(value, part)
        if raw is _MISSING:
            new.pop(part, None)
            continue
        sub = _plain_or_unrepresentable(raw)
        if sub == UNREPRESENTABLE:
            return _plain_or_unrepresentable(value)
        new[part] = sub
    try:
        orjson.dumps(new)  # the whole entry's checks: its nesting, as a whole
    except orjson.JSONEncodeError:
        return UNREPRESENTABLE
    return new


@dataclass(slots=True)
class Changes:
    """What :meth:`FlowDoc.refresh` found changed since the previous refresh."""

    nodes_added: list[str] = field(default_factory=list)
    nodes_changed: list[str] = field(default_factory=list)
    nodes_removed: list[str] = field(default_factory=list)
    edges_added: list[str] = field(default_factory=list)
    edges_changed: list[str] = field(default_factory=list)
    edges_removed: list[str] = field(default_factory=list)
    name_changed: bool = False
    previous_name: str = ""
    """The name before this change (when ``name_changed``)."""
    meta_keys: list[str] = field(default_factory=list)
    """Keys of ``meta`` other than those in :data:`META_KEYS` (when meta changed)."""

    def __bool__(self) -> bool:
        return bool(
            self.nodes_added
            or self.nodes_changed
            or self.nodes_removed
            or self.edges_added
            or self.edges_changed
            or self.edges_removed
            or self.name_changed
            or self.meta_keys
        )

    def merge(self, other: Changes) -> None:
        for name in (
            "nodes_added",
            "nodes_changed",
            "nodes_removed",
            "edges_added",
            "edges_changed",
            "edges_removed",
        ):
            mine: list[str] = getattr(self, name)
            mine.extend(i for i in getattr(other, name) if i not in mine)
        if other.name_changed and not self.name_changed:
            self.previous_name = other.previous_name
        self.name_changed = self.name_changed or other.name_changed
        self.meta_keys.extend(k for k in other.meta_keys if k not in self.meta_keys)


class EntryView:
    """Cached plain values of one map's entries, in materialization order."""

    __slots__ = ("sizes", "total", "values")

    def __init__(self) -> None:
        self.values: dict[str, JSON] = {}
        self.sizes: dict[str, int] = {}
        self.total = 0

    def put(self, key: str, value: JSON) -> bool:
        """Store ``value``; ``True`` when ``key`` is new."""
        new = key not in self.values
        self.total -= self.sizes.get(key, 0)
        size = _size(value)
        self.values[key] = value
        self.sizes[key] = size
        self.total += size
        return new

    def drop(self, key: str) -> bool:
        if key not in self.values:
            return False
        del self.values[key]
        self.total -= self.sizes.pop(key)
        return True

    def reorder(self, first: Iterable[str]) -> None:
        """Put ``first`` (those present) in front, in that order; the rest keep theirs."""
        ordered: dict[str, JSON] = {}
        for key in first:
            if key in self.values and key not in ordered:
                ordered[key] = self.values[key]
        for key, value in self.values.items():
            if key not in ordered:
                ordered[key] = value
        self.values = ordered


class FlowDoc:
    """A pycrdt ``Doc`` holding one flow, with an incrementally materialized view."""

    def __init__(self, doc: Doc[Any] | None = None) -> None:
        self.doc: Doc[Any] = doc if doc is not None else Doc()
        self._raw_doc = _raw_doc(self.doc)  # integrate()'s fast path, when it has one
        self.nodes: Map[Any] = self.doc.get("nodes", type=Map)
        self.edges: Map[Any] = self.doc.get("edges", type=Map)
        self.meta: Map[Any] = self.doc.get("meta", type=Map)
        self.node_view = EntryView()
        self.edge_view = EntryView()
        self.name = ""
        self._dirty_nodes: Dirty = {}
        self._dirty_edges: Dirty = {}
        self._dirty_meta = False
        self._edges_by_node: dict[str, set[str]] = {}
        self._reread: set[str] = set()  # maps to read whole at the next refresh (_touched)
        self._editor: Hashable | None = None
        self._edits: dict[Hashable, set[Entry]] = {}
        # The integrated (Rust) maps' deep observers, not pycrdt's ``Map.observe_deep``:
        # that one wraps each event and reads every field of it before the callback runs
        # (the target, the path, each changed key's old and new value as Python objects),
        # about 6 µs of the 16 µs a drag takes to integrate. These hand the events over as
        # they are; ``_touched`` reads only the path and, when needed, the changed keys.
        self._deep_subscriptions: list[Subscription] = [
            self.nodes.integrated.observe_deep(self._on_nodes),
            self.edges.integrated.observe_deep(self._on_edges),
        ]
        self._meta_subscription: Subscription | None = self.meta.observe(self._on_meta)
        # Whatever the doc already holds is "dirty" once, so the first refresh reads it.
        self._dirty_nodes.update(dict.fromkeys(sorted(self.nodes.keys())))
        self._dirty_edges.update(dict.fromkeys(sorted(self.edges.keys())))
        self._dirty_meta = True
        self.refresh()

    @classmethod
    def from_update(cls, update: bytes | None, order_hint: FlowJSON | None = None) -> FlowDoc:
        """A flow doc loaded from stored Yjs state, ordered by ``order_hint`` (REST flow)."""
        doc: Doc[Any] = Doc()
        if update:
            doc.apply_update(update)
        flow_doc = cls(doc)
        if order_hint is not None:
            flow_doc.set_order(order_hint)
        return flow_doc

    def close(self) -> None:
        """Stop observing the doc (the room is unloading)."""
        for subscription in self._deep_subscriptions:
            subscription.drop()
        self._deep_subscriptions = []
        if self._meta_subscription is not None:
            self.meta.unobserve(self._meta_subscription)
            self._meta_subscription = None

    # --- observation ------------------------------------------------------------------

    @contextmanager
    def edits_by(self, editor: Hashable) -> Iterator[None]:
        """Record which entries the transactions committed inside touch, as ``editor``'s
        (:meth:`take_edits`): whom to tell when the rules remove one."""
        self._editor = editor
        try:
            yield
        finally:
            self._editor = None

    def integrate(self, update: bytes) -> None:
        """``doc.apply_update(update)``: in a transaction of its own, committed even when
        yrs refuses the update, and an observer's exception raised after the commit, as
        pycrdt does.

        The room's fast path for an editor's update: it drives yrs's transaction itself
        instead of through pycrdt's ``Transaction`` (2.3 of the 12 µs a drag took to
        integrate, micro-benchmark). It relies on pycrdt internals (the ``Doc``'s
        ``_doc``, ``_txn``, ``_exceptions``); without them, or inside a transaction,
        the public call does it.
        """
        doc: Any = self.doc
        raw = self._raw_doc
        if raw is None or doc._txn is not None:
            self.doc.apply_update(update)
            return
        txn = raw.create_transaction()
        try:
            raw.apply_update(txn, update)
        finally:
            try:
                txn.commit()
            finally:
                txn.drop()
        if doc._exceptions:
            errors = tuple(doc._exceptions)
            doc._exceptions.clear()
            raise ExceptionGroup("Observer callback error", errors)

    def take_edits(self) -> dict[Hashable, set[Entry]]:
        """Per editor, the entries ``(kind, id)`` touched since the last call."""
        edits, self._edits = self._edits, {}
        return edits

    @staticmethod
    def _touched(events: list[Any], into: Dirty, seen: set[Entry] | None, kind: str) -> bool:
        """Mark the entries ``events`` changed: with the top-level keys of the entry they
        changed when the events say (a change inside an entry's ``Y.Map``), else whole.

        Entries are marked in the order their transactions came (each transaction's
        sorted by id), which is the order new entries are materialized in. ``seen``
        collects ``(kind, id)`` of every entry touched. True when an event of the root
        map named no key: yrs can leave them out (see ``_refresh``), so every entry of
        the map is read again.
        """
        unnamed = False
        for event in events:
            path = event.path
            if not path:  # entries of the root map set or deleted: whole entries
                named = sorted(str(k) for k in _changed_keys(event) or ())
                unnamed = unnamed or not named
                for key in named:
                    into[key] = None
                    if seen is not None:
                        seen.add((kind, key))
                continue
            entry = str(path[0])
            if seen is not None:
                seen.add((kind, entry))
            if entry in into and into[entry] is None:
                continue
            parts: set[str] | None = None
            if len(path) > 1:
                part = path[1]  # a change deeper inside the value of this key
                parts = {part} if isinstance(part, str) else None
            else:
                keys = _changed_keys(event)
                # No key named (see _refresh): the whole entry is read again.
                parts = {str(key) for key in keys} if keys else None
            if parts is None:
                into[entry] = None
            else:
                known = into.setdefault(entry, set())
                assert known is not None
                known.update(parts)
        return unnamed

    def _seen(self) -> set[Entry] | None:
        if self._editor is None:
            return None
        return self._edits.setdefault(self._editor, set())

    def _on_nodes(self, events: list[Any]) -> None:
        if self._touched(events, self._dirty_nodes, self._seen(), "node"):
            self._reread.add("node")

    def _on_edges(self, events: list[Any]) -> None:
        if self._touched(events, self._dirty_edges, self._seen(), "edge"):
            self._reread.add("edge")

    def _on_meta(self, event: Any) -> None:
        self._dirty_meta = True
        seen = self._seen()
        if seen is not None:
            seen.update(("meta", str(key)) for key in getattr(event, "keys", ()))

    # --- materialization --------------------------------------------------------------

    def refresh(self) -> Changes:
        """Bring the cached view up to date with the doc; return what changed."""
        # One transaction for all the reads: each read of a map outside one opens and
        # commits its own (a dozen per drag, about a fifth of what integrating it costs).
        with self.doc.transaction() as txn:
            return self._refresh(entry_reader(txn))

    def _refresh(self, read: Reader) -> Changes:
        changes = Changes()
        if self._reread:
            for kind in sorted(self._reread):
                ymap, view, dirty = (
                    (self.nodes, self.node_view, self._dirty_nodes)
                    if kind == "node"
                    else (self.edges, self.edge_view, self._dirty_edges)
                )
                for key in (*sorted(str(k) for k in ymap.keys()), *view.values):  # noqa: SIM118
                    dirty[key] = None
            self._reread.clear()
        self._refresh_meta(changes)
        self._refresh_nodes(read, changes)
        self._refresh_edges(read, changes)
        # The events can miss a change: yrs integrates an update whose predecessor from
        # the same client has not arrived (a client's edit sent before what its previous
        # socket lost), leaves that client's clock in the state vector behind it, and then
        # takes that client's items for ones added by a later transaction that deletes or
        # replaces them: the event names no key (the cache kept such entries for good).
        # An event naming no key has its map, or its entry, read again (_touched); and
        # as a last guard the counts are compared (a length is a read of the map's
        # header), and on a difference the key sets.
        if self._missed(self.nodes, self.node_view, self._dirty_nodes):
            self._refresh_nodes(read, changes)
        if self._missed(self.edges, self.edge_view, self._dirty_edges):
            self._refresh_edges(read, changes)
        return changes

    @staticmethod
    def _missed(ymap: Map[Any], view: EntryView, dirty: Dirty) -> bool:
        """Mark the entries the events did not report (see ``_refresh``); any?"""
        if len(ymap) == len(view.values):
            return False
        keys = set(ymap.keys())
        for key in sorted(keys.symmetric_difference(view.values)):
            dirty[key] = None
        return bool(dirty)

    def _refresh_meta(self, changes: Changes) -> None:
        if self._dirty_meta:
            self._dirty_meta = False
            raw = self.meta.get("name")
            name = raw if isinstance(raw, str) else ""
            if name != self.name or (raw is not None and not isinstance(raw, str)):
                changes.previous_name = self.name
                changes.name_changed = True
                self.name = name
            changes.meta_keys = sorted(k for k in list(self.meta.keys()) if k not in META_KEYS)

    def _refresh_nodes(self, read: Reader, changes: Changes) -> None:
        if self._dirty_nodes:
            dirty, self._dirty_nodes = self._dirty_nodes, {}
            for key in dirty:
                value = read(self.nodes, key)
                if value is _MISSING:
                    if self.node_view.drop(key):
                        changes.nodes_removed.append(key)
                    continue
                old = self.node_view.values.get(key, _MISSING)
                new_value = _refreshed(old, value, dirty[key], read)
                if old == new_value:
                    continue
                if self.node_view.put(key, new_value):
                    changes.nodes_added.append(key)
                else:
                    changes.nodes_changed.append(key)

    def _refresh_edges(self, read: Reader, changes: Changes) -> None:
        if self._dirty_edges:
            dirty, self._dirty_edges = self._dirty_edges, {}
            for key in dirty:
                old = self.edge_view.values.get(key, _MISSING)
                value = read(self.edges, key)
                if value is _MISSING:
                    if self.edge_view.drop(key):
                        self._unindex_edge(key, old)
                        changes.edges_removed.append(key)
                    continue
                new_value = _refreshed(old, value, dirty[key], read)
                if old == new_value:
                    continue
                self._unindex_edge(key, old)
                self._index_edge(key, new_value)
                if self.edge_view.put(key, new_value):
                    changes.edges_added.append(key)
                else:
                    changes.edges_changed.append(key)

    def _index_edge(self, key: str, value: JSON) -> None:
        if isinstance(value, dict):
            for end in (value.get("source"), value.get("target")):
                if isinstance(end, str):
                    self._edges_by_node.setdefault(end, set()).add(key)

    def _unindex_edge(self, key: str, value: JSON) -> None:
        if isinstance(value, dict):
            for end in (value.get("source"), value.get("target")):
                if isinstance(end, str) and end in self._edges_by_node:
                    self._edges_by_node[end].discard(key)
                    if not self._edges_by_node[end]:
                        del self._edges_by_node[end]

    def edges_of(self, node_id: str) -> set[str]:
        """Ids of the edges whose source or target is ``node_id``."""
        return set(self._edges_by_node.get(node_id, ()))

    @property
    def size_bytes(self) -> int:
        """Size of the materialized flow as compact JSON, at most 2 bytes over (the REST
        size limits apply to that)."""
        name = len(orjson.dumps(self.name))
        return _ENVELOPE + name + self.node_view.total + self.edge_view.total

    def foreign_roots(self) -> list[str]:
        """Root types other than :data:`ROOTS` that hold something."""
        found = []
        for name in list(self.doc.keys()):
            if name in ROOTS:
                continue
            if len(self.doc.get(name, type=Array)) or len(self.doc.get(name, type=Map)):
                found.append(str(name))
        return found

    def empty_root(self, name: str) -> None:
        """Delete everything in root type ``name`` (sequence and keyed content alike)."""
        sequence = self.doc.get(name, type=Array)
        if len(sequence):
            del sequence[:]
        self.doc.get(name, type=Map).clear()

    def materialize(self) -> FlowJSON:
        """``{"name", "nodes", "edges"}``; entries are the cached dicts: do not mutate them."""
        self.refresh()
        return {
            "name": self.name,
            "nodes": [v for v in self.node_view.values.values() if isinstance(v, dict)],
            "edges": [v for v in self.edge_view.values.values() if isinstance(v, dict)],
        }

    def set_order(self, flow: Mapping[str, Any]) -> None:
        """Order the view like ``flow`` (a flow JSON); unnamed entries follow, by id."""
        self.refresh()
        pairs = ((self.node_view, flow.get("nodes")), (self.edge_view, flow.get("edges")))
        for view, items in pairs:
            hinted = [str(i["id"]) for i in items or () if isinstance(i, dict) and "id" in i]
            named = set(hinted)
            rest = sorted(k for k in view.values if k not in named)
            view.reorder([*hinted, *rest])

    # --- writes -----------------------------------------------------------------------

    def apply_flow(self, flow: Mapping[str, Any], origin: Any = None) -> bytes:
        """Make the doc equal ``flow`` in ONE minimal transaction; return its Yjs update.

        Only entries and fields that differ are written. New entries are ``Y.Map``s with a
        plain ``position`` and a ``Y.Map`` ``data``; an existing entry keeps its form (a
        plain-object entry is replaced as a unit, a ``Y.Map`` entry is updated field by
        field, nested ``Y.Map`` fields key by key). Returns ``b""`` when nothing changed.
        """
        self.refresh()
        captured: list[bytes] = []
        with self.capturing(captured.append), self.doc.transaction(origin=origin):
            name = flow.get("name")
            if isinstance(name, str) and name != self.name:
                self.meta["name"] = name
            self._write_entries(self.nodes, self.node_view, flow.get("nodes") or ())
            self._write_entries(self.edges, self.edge_view, flow.get("edges") or ())
        self.refresh()
        self.set_order(flow)
        return captured[0] if captured else b""

    @contextmanager
    def capturing(self, into: Callable[[bytes], object]) -> Iterator[None]:
        """Hand each transaction committed inside to ``into`` as its Yjs update (what it
        changed); a transaction that changed nothing is left out.

        Only around the transactions whose update is wanted: while the doc has an
        observer, pycrdt encodes the update of every transaction, and that work grows
        with the number of Yjs clients the doc has ever seen (13 µs an update at 400).
        """

        def committed(event: TransactionEvent) -> None:
            update: bytes = event.update
            if update and update != EMPTY_UPDATE:
                into(update)

        subscription = self.doc.observe(committed)
        try:
            yield
        finally:
            self.doc.unobserve(subscription)

    def _write_entries(self, ymap: Map[Any], view: EntryView, items: Iterable[Any]) -> None:
        wanted: dict[str, dict[str, Any]] = {}
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                wanted[item["id"]] = item
        for key in list(ymap.keys()):
            if key not in wanted:
                del ymap[key]
        for key, item in wanted.items():
            normalized = _normalize(item)
            if view.values.get(key, _MISSING) == normalized:
                continue
            existing = ymap.get(key)
            if isinstance(existing, Map):
                _update_map(existing, normalized)
            elif isinstance(existing, dict):
                ymap[key] = normalized
            else:
                ymap[key] = server_entry(normalized)


_MISSING: Any = object()


def _changed_keys(event: Any) -> Iterable[Any] | None:
    """The keys a map event (or an XML element's) changed; ``None`` for sequence events.

    ``event`` is one of pycrdt's integrated events: its ``keys`` are computed on first read.
    """
    keys: Iterable[Any] | None = getattr(event, "keys", None)
    return keys


Reader = Callable[[Map[Any], str], Any]
"""Reads ``ymap[key]``, or gives :data:`_MISSING` when ``ymap`` has no ``key``."""


def _lookup(ymap: Map[Any], key: str) -> Any:
    """``ymap[key]``, or :data:`_MISSING`: one look-up in one transaction, where
    ``Map.get`` makes two (a membership test, then the read) in three nested ones."""
    try:
        return ymap[key]
    except KeyError:
        return _MISSING


def _raw_doc(doc: Doc[Any]) -> Any:
    """``doc``'s yrs document, when pycrdt has the internals :meth:`FlowDoc.integrate`
    drives (``_doc``, ``_txn``, ``_exceptions``, no multithreading lock); else ``None``."""
    if (
        not hasattr(doc, "_txn")
        or not isinstance(getattr(doc, "_exceptions", None), list)
        or getattr(doc, "_allow_multithreading", True)
    ):
        return None
    return getattr(doc, "_doc", None)


_PLAIN = (dict, list, str, float, int, bool)


def entry_reader(txn: Transaction) -> Reader:
    """How a refresh reads entries inside its own transaction ``txn``.

    The fast path of the refresh. pycrdt's ``Map[key]`` opens a nested transaction, tests
    the key in another, then tries each shared type in turn to wrap the value: about 30
    times the read itself, and a drag's refresh makes two (the node, then the key that
    changed). This reads the integrated map directly in ``txn`` and wraps only shared
    types, as ``Map[key]`` does. It relies on pycrdt internals (a transaction's ``_txn``,
    ``Map._maybe_as_type_or_doc``, yrs's ``ValueError`` for a missing key); with a pycrdt
    that lacks them, the public :func:`_lookup` reads instead.
    """
    raw_txn = getattr(txn, "_txn", None)
    if raw_txn is None or not hasattr(Map, "_maybe_as_type_or_doc"):
        return _lookup

    def read(ymap: Map[Any], key: str) -> Any:
        try:
            value = ymap.integrated.get(raw_txn, key)
        except ValueError:  # yrs's "Key error": no such key
            return _MISSING
        if value is None or isinstance(value, _PLAIN):
            return value
        return ymap._maybe_as_type_or_doc(value)

    return read


def server_entry(item: Mapping[str, Any]) -> Map[Any]:
    """The form the server writes: a ``Y.Map`` whose ``data`` (when an object) is a ``Y.Map``."""
    fields: dict[str, Any] = {}
    for key, value in item.items():
        fields[key] = Map(dict(value)) if key == "data" and isinstance(value, dict) else value
    return Map(fields)


def _update_map(ymap: Map[Any], new: Mapping[str, Any]) -> None:
    for key in list(ymap.keys()):
        if key not in new:
            del ymap[key]
    for key, value in new.items():
        current = ymap.get(key, _MISSING)
        if isinstance(current, Map) and isinstance(value, dict):
            if plain(current) != value:
                _update_map(current, value)
        elif current is _MISSING or plain(current) != value:
            if current is _MISSING and key == "data" and isinstance(value, dict):
                ymap[key] = Map(dict(value))
            else:
                ymap[key] = value
