"""Tuning of the collab rooms, from settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from minibase.domain.collab import Limits


@dataclass(frozen=True, slots=True)
class CollabOptions:
    """Tuning of the collab rooms (all times in seconds)."""

    unload_delay: float = 5.0
    """How long a room stays loaded after its last client left."""
    materialize_delay: float = 1.0
    """Debounce of ``FlowBridge.on_change`` after accepted updates."""
    compact_after_updates: int = 1000
    """Compact the update log once this many rows follow the snapshot ..."""
    compact_after_bytes: int = 1024 * 1024
    """... or once they hold this many bytes."""
    rebase_over_bytes: int | None = None
    """A room that loads rebases its stored state (:mod:`minibase.collab.rebase`) when it
    is larger than this, unchanged for ``rebase_idle`` and at least halved by it;
    ``None``: never. Only safe where no other instance can hold the room (the app
    leaves it off with Redis)."""
    rebase_idle: float = 3600.0
    """How long a flow's stored Yjs state must be unchanged before it is rebased: a
    client that edited offline against the old state for longer loses those changes
    to entries that existed before (see docs/collab.md, "Rebasing")."""
    awareness_timeout: float = 30.0
    """An awareness state not renewed for this long is removed (stock clients renew every 15 s)."""
    awareness_max_clients: int = 8
    """Most Yjs client ids one socket may announce awareness states for."""
    awareness_max_state_bytes: int = 8 * 1024
    """Largest awareness state (its JSON text); a larger one is not relayed."""
    awareness_per_second: float = 20.0
    """Awareness frames relayed per socket and second (bursts of twice that); the newest
    state of frames beyond it is relayed when the socket is within its rate again."""
    max_queued_frames: int = 4096
    """A client this many frames behind is disconnected (1013) instead of buffering more."""
    max_queued_bytes: int = 16 * 1024 * 1024
    """... or this many bytes behind (what it had waiting is dropped at once)."""
    max_held_updates: int = 32
    """Editors' updates a room holds back until what they build on arrives
    (:mod:`minibase.collab.held_updates`); beyond it, one is integrated at once."""
    max_held_bytes: int = 4 * 1024 * 1024
    """... and the bytes they may take in all ..."""
    max_held_per_socket: int = 8
    """... and how many of them one socket may have held."""
    flow_limits: Limits = field(default_factory=Limits)
    """Deployment-wide limits of one flow (settings), tightened by each client's own."""
