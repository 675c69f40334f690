"""What the hot path reads without the database: credentials, roles, current flows.

Filled on a miss, emptied by committed events (see :mod:`minibase.store.read_cache`):
``credentials`` drops revoked sessions and keys, ``members`` and ``org`` drop an org's
roles, ``flow`` drops flows, ``resync`` (the bus lost events) drops everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from minibase.domain.events import Event, EventKind
from minibase.domain.flow_index import IndexedFlow
from minibase.domain.principal import Principal
from minibase.domain.roles import Role
from minibase.store.read_cache import EpochCache, LruCache


@dataclass(frozen=True, slots=True)
class CachedPrincipal:
    principal: Principal
    expires_at: int | None
    """Session expiry (ms); ``None`` for API keys."""
    touched_at: int


@dataclass(frozen=True, slots=True)
class CachedFlow:
    body: bytes
    version: int


class HotCache:
    def __init__(self, max_entries: int = 10_000) -> None:
        self.principals: EpochCache[str, CachedPrincipal] = EpochCache(max_entries)
        self.roles: EpochCache[tuple[str, str], Role] = EpochCache(max_entries)
        self.flows: EpochCache[tuple[str, str], CachedFlow] = EpochCache(max_entries // 10)
        self.versions: LruCache[tuple[str, str, int], bytes] = LruCache(256)
        """Past flow documents by ``(org, flow, version)``, as JSON bytes: immutable, so
        never dropped by events (the base of stale saves and of collab syncs). Bytes, not
        dicts: hundreds of parsed documents would make every full garbage collection
        walk hundreds of thousands of objects (pauses of 100 ms were measured)."""
        self.indexed: LruCache[tuple[str, str, int], IndexedFlow] = LruCache(64)
        """Recent flow documents by ``(org, flow, version)``, parsed and indexed by entity:
        the current versions and the bases of saves, whose untouched entities are shared
        objects (see ``domain/flow_index``), so a save compares only what it changed.
        Few and sharing most of their objects, they stay cheap for the collector."""

    def apply(self, events: Sequence[Event]) -> None:
        for event in events:
            self._apply(event)

    async def on_event(self, event: Event) -> None:
        """Bus subscriber: events committed by other instances."""
        self._apply(event)

    def _apply(self, event: Event) -> None:
        kind, org = event.kind, event.org_id
        if kind == EventKind.RESYNC:
            self.principals.clear()
            self.roles.clear()
            self.flows.clear()
        elif kind == EventKind.CREDENTIALS:
            revoked = set(event.ids)
            self.principals.invalidate_where(
                lambda _, v: (
                    v.principal.credential_id in revoked
                    or (v.principal.user_id is not None and v.principal.user_id in revoked)
                )
            )
        elif kind in (EventKind.MEMBERS, EventKind.ORG):
            self.roles.invalidate_where(lambda k, _: k[0] == org)
            if kind == EventKind.ORG:
                self.flows.invalidate_where(lambda k, _: k[0] == org)
        elif kind == EventKind.FLOW:
            if event.ids:
                for flow_id in event.ids:
                    self.flows.invalidate((org, flow_id))
            else:
                self.flows.invalidate_where(lambda k, _: k[0] == org)
