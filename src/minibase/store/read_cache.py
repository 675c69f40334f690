"""A read cache for the hot path (credentials, roles, materialized flows).

Entries are dropped by committed events: synchronously in the instance that committed
(before its response is sent), and through the bus in every other instance. A read that
raced with a write must not store what it read after the write's invalidation, so every
invalidation advances the cache's epoch, and a value read under an older epoch is not
stored (a rare extra miss, never a stale hit).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class EpochCache(Generic[K, V]):
    """A bounded LRU map that refuses values read before the latest invalidation."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()
        self.epoch = 0

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, epoch: int, value: V) -> None:
        """Store ``value``, read when :attr:`epoch` was ``epoch``, unless stale since."""
        if epoch != self.epoch:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, key: K) -> None:
        self.epoch += 1
        self._entries.pop(key, None)

    def invalidate_where(self, predicate: Callable[[K, V], bool]) -> None:
        self.epoch += 1
        for key in [k for k, v in self._entries.items() if predicate(k, v)]:
            del self._entries[key]

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class LruCache(Generic[K, V]):
    """A bounded LRU map for immutable values (nothing ever invalidates them)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
