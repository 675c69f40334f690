"""What a committed transaction tells the rest of the system, and the ports it goes through.

Services record :class:`Event` values on their unit of work; the store hands them to a
:class:`Publisher` after commit; an :class:`EventBus` (``minibase.realtime``) delivers
them to subscribers (live queries, collab rooms, caches). These are domain values and
ports, so every layer can speak of events without importing the bus.

Besides the events of committed changes, a bus delivers one signal: **resync**, an
``Event(org_id="*", kind=EventKind.RESYNC)`` (build it with :func:`resync`, test it with
:attr:`Event.is_resync`). It means "events may have been missed": the bus lost its Redis
subscription and got it back, another instance had to drop events it could not send,
or this process's delivery queue overflowed. A subscriber that keeps derived state (a
live query's last value, a cache) must then rebuild it from the database, for every
organization, as if it had just subscribed. The bus delivers resync only once it is
receiving events again, so a re-read started on resync misses no later change. Resync
is idempotent and may arrive more than once for one incident; ``extra["reason"]`` says
why (``reconnected``, ``missed``, ``overflow``), for logs only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

ALL_ORGS = "*"
"""``org_id`` of an event that concerns every organization (resync, ended sessions)."""


class EventKind(StrEnum):
    """What changed; every kind the code emits, and nothing else."""

    FLOW = "flow"
    """A flow was created, saved, restored or deleted (``ids``: the flow; ``version``;
    ``extra.deleted`` on delete)."""
    OUTPUTS = "outputs"
    """A flow's node outputs changed (``ids``: the flow)."""
    USAGE = "usage"
    """The org's usage counters moved."""
    MEMBERS = "members"
    """A membership changed (``ids``: the user; ``extra.change``: ``joined``, ``role``,
    ``removed``)."""
    ORG = "org"
    """The organization was renamed, changed plan or was deleted (``extra.deleted``)."""
    CREDENTIALS = "credentials"
    """Sessions or API keys ended (``ids``: their ids; ``org_id`` is ``*`` for sessions)."""
    COLLAB_UPDATE = "collab.update"
    """A Yjs update was appended to a flow's log (``ids``: the flow; ``extra.seq``,
    ``extra.instance``)."""
    RUNS = "runs"
    """A run or the state of its nodes changed (``ids``: the flow, the run; ``extra.queued``
    when it was queued, which wakes workers)."""
    COMMENTS = "comments"
    """A flow's comments changed (``ids``: the flow)."""
    NOTIFICATIONS = "notifications"
    """Users' notifications changed (``org_id`` ``*``; ``ids``: the users)."""
    TASKS = "tasks"
    """The org's tasks changed (``ids``: the task)."""
    TEMPLATES = "templates"
    """The org's templates changed (``ids``: the template)."""
    DASHBOARDS = "dashboards"
    """The org's custom dashboards changed (``ids``: the dashboard)."""
    PROBE = "probe"
    """Not a change: a marker ``/metrics`` sends through the bus to time it (``org_id``
    ``*``; ``ids``: the marker)."""
    SCHEDULES = "schedules"
    """A flow's schedules changed or one fired (``ids``: the flow, the schedule)."""
    QUOTA_WARNING = "quota.warning"
    """An org's usage crossed a quota threshold (``extra``: ``quota``, ``level``,
    ``percent``, ``used``, ``limit``)."""
    WEBHOOK_DELIVERIES = "webhook.deliveries"
    """Event-webhook deliveries were recorded (``ids``: the deliveries): the deliverers
    wake for these only, not for every event that might have recorded some."""
    RESYNC = "resync"
    """Not a change: events may have been missed (see the module docstring)."""


RESYNC = EventKind.RESYNC
"""``kind`` of the resync signal."""


@dataclass(frozen=True, slots=True)
class Event:
    """One committed change: the org it belongs to, what kind of thing, which ids.

    ``version`` is the resource's new version when it has one. A ``kind`` given as a
    string becomes its :class:`EventKind` (``ValueError`` for a kind that does not exist).
    """

    org_id: str
    kind: EventKind
    ids: tuple[str, ...] = ()
    version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.kind) is not EventKind:  # a plain string: only a kind that exists
            object.__setattr__(self, "kind", EventKind(self.kind))

    @property
    def is_resync(self) -> bool:
        """True for the resync signal: rebuild derived state from the database."""
        return self.kind == EventKind.RESYNC and self.org_id == ALL_ORGS

    def to_json(self) -> dict[str, Any]:
        return {
            "org": self.org_id,
            "kind": self.kind.value,
            "ids": list(self.ids),
            "version": self.version,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        """The event :meth:`to_json` wrote; ``ValueError`` for a kind this code lacks."""
        return cls(
            org_id=str(data["org"]),
            kind=EventKind(data["kind"]),
            ids=tuple(str(i) for i in data.get("ids", ())),
            version=data.get("version"),
            extra=dict(data.get("extra") or {}),
        )


def resync(reason: str) -> Event:
    """The resync signal (see the module docstring); ``reason`` is for logs."""
    return Event(org_id=ALL_ORGS, kind=EventKind.RESYNC, extra={"reason": reason})


class Publisher(Protocol):
    """Takes the events of one committed transaction (the bus's ``publish``)."""

    def __call__(self, events: Sequence[Event], /) -> Awaitable[None]: ...


Subscriber = Callable[[Event], Awaitable[None]]
"""Called with every event the bus delivers, one at a time, in order."""


class EventBus(Protocol):
    """Publish committed events; deliver every event to every subscriber."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, events: Sequence[Event]) -> None:
        """Hand ``events`` to the bus; never raises for a delivery or Redis problem."""
        ...

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register ``subscriber``; return a function that unregisters it."""
        ...
