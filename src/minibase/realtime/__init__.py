"""Real time: the event bus, the live-query hub and the ``/v1/sync`` socket."""

from __future__ import annotations

from minibase.config import Settings
from minibase.domain.events import EventBus
from minibase.realtime.bus import InProcessBus
from minibase.realtime.redis_bus import RedisBus


def build_bus(settings: Settings) -> EventBus:
    """The bus ``settings`` ask for: Redis when ``redis_url`` is set, else in process."""
    if settings.redis_url:
        return RedisBus(settings.redis_url, settings.redis_prefix)
    return InProcessBus()


__all__ = ["InProcessBus", "RedisBus", "build_bus"]
