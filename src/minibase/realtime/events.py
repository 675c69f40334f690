"""What a committed transaction tells the rest of the system.

Besides the events of committed changes, a bus delivers one signal: **resync**, an
``Event(org_id="*", kind="resync")`` (build it with :func:`resync`, test it with
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

from dataclasses import dataclass, field
from typing import Any

ALL_ORGS = "*"
"""``org_id`` of a signal that concerns every organization."""

RESYNC = "resync"
"""``kind`` of the resync signal."""


@dataclass(frozen=True, slots=True)
class Event:
    """One committed change: the org it belongs to, what kind of thing, which ids.

    ``kind`` names the resource (``flow``, ``flows``, ``output``, ``members``, ``org``,
    ``audit``, ``usage``, ``credentials`` ...); ``version`` is the resource's new version
    when it has one.
    """

    org_id: str
    kind: str
    ids: tuple[str, ...] = ()
    version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_resync(self) -> bool:
        """True for the resync signal: rebuild derived state from the database."""
        return self.kind == RESYNC and self.org_id == ALL_ORGS

    def to_json(self) -> dict[str, Any]:
        return {
            "org": self.org_id,
            "kind": self.kind,
            "ids": list(self.ids),
            "version": self.version,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        return cls(
            org_id=str(data["org"]),
            kind=str(data["kind"]),
            ids=tuple(str(i) for i in data.get("ids", ())),
            version=data.get("version"),
            extra=dict(data.get("extra") or {}),
        )


def resync(reason: str) -> Event:
    """The resync signal (see the module docstring); ``reason`` is for logs."""
    return Event(org_id=ALL_ORGS, kind=RESYNC, extra={"reason": reason})
