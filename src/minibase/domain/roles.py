"""Roles and the one permission table every route consults (role x action)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


class Action(StrEnum):
    """Everything a member can be allowed to do inside an organization."""

    ORG_READ = "org.read"
    ORG_UPDATE = "org.update"
    ORG_DELETE = "org.delete"
    MEMBERS_READ = "members.read"
    MEMBERS_MANAGE = "members.manage"
    MEMBERS_LEAVE = "members.leave"
    INVITATIONS_MANAGE = "invitations.manage"
    API_KEYS_MANAGE = "api_keys.manage"
    FLOWS_READ = "flows.read"
    FLOWS_WRITE = "flows.write"
    OUTPUTS_READ = "outputs.read"
    OUTPUTS_WRITE = "outputs.write"
    RUNS_EXECUTE = "runs.execute"
    USAGE_READ = "usage.read"
    AUDIT_READ = "audit.read"


_READ = frozenset(
    {
        Action.ORG_READ,
        Action.MEMBERS_READ,
        Action.MEMBERS_LEAVE,
        Action.FLOWS_READ,
        Action.OUTPUTS_READ,
        Action.USAGE_READ,
    }
)
_EDIT = _READ | {Action.FLOWS_WRITE, Action.OUTPUTS_WRITE, Action.RUNS_EXECUTE}

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: _READ,
    Role.EDITOR: frozenset(_EDIT),
    Role.ADMIN: frozenset(Action),
}
"""The permission table: what each role may do. No route decides by itself."""


def is_allowed(role: Role, action: Action) -> bool:
    return action in PERMISSIONS[role]
