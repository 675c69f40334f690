"""The objects one running instance shares between requests, built by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from minibase.config import Settings
from minibase.realtime.bus import EventBus
from minibase.services.flow_saves import FlowSaves
from minibase.services.invitation_delivery import InvitationSender, LogInvitationSender
from minibase.store.database import Database
from minibase.store.unit_of_work import Store

if TYPE_CHECKING:
    from minibase.collab.rooms import RoomManager


@dataclass(slots=True)
class AppContext:
    settings: Settings
    database: Database
    store: Store
    bus: EventBus
    saves: FlowSaves
    """Flow saves (``PUT``), written in batches (``services/flow_saves.py``)."""
    hub: Any = None
    """The live-query hub (:class:`minibase.realtime.hub.LiveQueryHub`)."""
    invitation_sender: InvitationSender = field(default_factory=LogInvitationSender)
    collab: RoomManager | None = None
    """The collab rooms (``apply_flow`` for REST writes), set by the lifespan."""
