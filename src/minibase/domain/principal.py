"""Who is calling: a signed-in user (session token) or an organization's API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from minibase.domain.roles import Role

PrincipalKind = Literal["user", "api_key", "system"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request or socket.

    ``user_id`` is set for users; ``organization_id`` and ``role`` are set for API keys,
    which are bound to one org. ``credential_id`` names the session or key used, so it
    can be revoked and audited.
    """

    kind: PrincipalKind
    id: str
    credential_id: str
    user_id: str | None = None
    organization_id: str | None = None
    role: Role | None = None

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    @property
    def is_api_key(self) -> bool:
        return self.kind == "api_key"


SYSTEM = Principal(kind="system", id="system", credential_id="system")
"""The server itself (background jobs, compensating transactions, migrations)."""
