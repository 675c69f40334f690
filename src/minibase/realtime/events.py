"""What a committed transaction tells the rest of the system."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
