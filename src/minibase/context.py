"""The objects one running instance shares between requests, built by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minibase.config import Settings
from minibase.domain.events import EventBus
from minibase.services.engine_host import EngineHost
from minibase.services.flow_saves import FlowSaves
from minibase.services.invitation_delivery import InvitationSender, LogInvitationSender
from minibase.store.database import Database
from minibase.store.unit_of_work import Store


@dataclass(slots=True)
class AppContext:
    settings: Settings
    database: Database
    store: Store
    bus: EventBus
    saves: FlowSaves
    """Flow saves (``PUT``), written in batches (``services/flow_saves.py``)."""
    hub: Any = None
    """The live-query hub (:class:`minibase.realtime.hub.LiveQueryHub`), set by the
    lifespan; typed loosely because api and http, which import this module, sit beside
    realtime, not above it."""
    invitation_sender: InvitationSender = field(default_factory=LogInvitationSender)
    collab: Any = None
    """The collab rooms (:class:`minibase.collab.rooms.RoomManager`), set by the lifespan
    (typed loosely for the same reason as ``hub``)."""
    engine: EngineHost | None = None
    """The flow engine (node types, and the run worker where this process runs one)."""
