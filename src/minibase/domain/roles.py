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
    COMMENTS_WRITE = "comments.write"
    """Comment on a flow (and edit or delete one's own), within the org's ``commentsBy``."""
    COMMENTS_RESOLVE = "comments.resolve"
    TASKS_WRITE = "tasks.write"
    TEMPLATES_WRITE = "templates.write"
    COMMENTS_MODERATE = "comments.moderate"
    """Delete anyone's comment."""
    ANALYTICS_READ = "analytics.read"
    BILLING_READ = "billing.read"
    ORG_EXPORT = "org.export"
    EVENT_WEBHOOKS_MANAGE = "event_webhooks.manage"
    """Create, list and delete the org's event webhooks and read their deliveries (admin)."""


_READ = frozenset(
    {
        Action.ORG_READ,
        Action.MEMBERS_READ,
        Action.MEMBERS_LEAVE,
        Action.FLOWS_READ,
        Action.OUTPUTS_READ,
        Action.USAGE_READ,
        Action.COMMENTS_WRITE,
        Action.ANALYTICS_READ,
    }
)
_EDIT = _READ | {
    Action.FLOWS_WRITE,
    Action.OUTPUTS_WRITE,
    Action.RUNS_EXECUTE,
    Action.COMMENTS_RESOLVE,
    Action.TASKS_WRITE,
    Action.TEMPLATES_WRITE,
}

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: _READ,
    Role.EDITOR: frozenset(_EDIT),
    Role.ADMIN: frozenset(Action),
}
"""The permission table: what each role may do. No route decides by itself."""


def is_allowed(role: Role, action: Action) -> bool:
    return action in PERMISSIONS[role]


RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}


def at_least(role: Role, minimum: Role) -> bool:
    """``role`` is ``minimum`` or above it (viewer < editor < admin)."""
    return RANK[role] >= RANK[minimum]
