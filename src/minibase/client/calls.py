"""Every endpoint the SDK speaks, declared once; both clients send these calls.

An :class:`Endpoint` is a method and a path template as the server's route table has it;
``ENDPOINTS`` lists those the clients have methods for, ``NOT_IN_SDK`` the others (a test
compares both with the app's routes). A :class:`Call` is one request ready to send.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

T = TypeVar("T")

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request: the answer's JSON is a ``T`` (``None`` for 204)."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    auth: bool = True

    @property
    def is_write(self) -> bool:
        return self.method in WRITES


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    auth: bool = True
    names: tuple[str, ...] = field(default=(), init=False, compare=False)
    """The template's path parameters, in order."""

    def __post_init__(self) -> None:
        names = tuple(n for _, n, _, _ in string.Formatter().parse(self.template) if n)
        object.__setattr__(self, "names", names)

    def call(
        self,
        *path_args: str | int,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Call[Any]:
        names = self.names
        if len(names) != len(path_args):
            raise TypeError(f"{self.template} takes {len(names)} path arguments")
        path = self.template.format(
            **{n: quote(str(a), safe="") for n, a in zip(names, path_args, strict=True)}
        )
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return Call(self.method, path, json, query, self.auth)


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body without the fields left at ``None`` (the server's defaults apply)."""
    return {k: v for k, v in fields.items() if v is not None}


def params(**fields: Any) -> dict[str, Any]:
    """Query parameters: booleans as ``true``/``false``, ``None`` left out."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


VIEW_FIELDS = frozenset({"selected", "dragging", "resizing", "measured"})
"""React Flow fields that describe one screen, not the flow."""


def stored_entities(items: Any) -> list[Any]:
    """Nodes or edges as the server stores them: without React Flow's view-only fields."""
    return [
        {k: v for k, v in item.items() if k not in VIEW_FIELDS} if isinstance(item, dict) else item
        for item in items or ()
    ]


# --- health, auth ------------------------------------------------------------------------
HEALTHZ = Endpoint("GET", "/healthz", auth=False)
READYZ = Endpoint("GET", "/readyz", auth=False)
SIGNUP = Endpoint("POST", "/v1/auth/signup", auth=False)
LOGIN = Endpoint("POST", "/v1/auth/login", auth=False)
LOGOUT = Endpoint("POST", "/v1/auth/logout")
CHANGE_PASSWORD = Endpoint("POST", "/v1/auth/password")
ME = Endpoint("GET", "/v1/me")
SOCKET_TICKET = Endpoint("POST", "/v1/socket-tickets")

# --- orgs, members, invitations, API keys, usage ----------------------------------------
ORGS = Endpoint("GET", "/v1/orgs")
ORG_CREATE = Endpoint("POST", "/v1/orgs")
ORG = Endpoint("GET", "/v1/orgs/{orgId}")
ORG_UPDATE = Endpoint("PATCH", "/v1/orgs/{orgId}")
ORG_DELETE = Endpoint("DELETE", "/v1/orgs/{orgId}")
MEMBERS = Endpoint("GET", "/v1/orgs/{orgId}/members")
MEMBER_UPDATE = Endpoint("PATCH", "/v1/orgs/{orgId}/members/{userId}")
MEMBER_REMOVE = Endpoint("DELETE", "/v1/orgs/{orgId}/members/{userId}")
INVITATIONS = Endpoint("GET", "/v1/orgs/{orgId}/invitations")
INVITATION_CREATE = Endpoint("POST", "/v1/orgs/{orgId}/invitations")
INVITATION_REVOKE = Endpoint("DELETE", "/v1/orgs/{orgId}/invitations/{invitationId}")
INVITATION_ACCEPT = Endpoint("POST", "/v1/invitations/accept")
API_KEYS = Endpoint("GET", "/v1/orgs/{orgId}/api-keys")
API_KEY_CREATE = Endpoint("POST", "/v1/orgs/{orgId}/api-keys")
API_KEY_REVOKE = Endpoint("DELETE", "/v1/orgs/{orgId}/api-keys/{keyId}")
USAGE = Endpoint("GET", "/v1/orgs/{orgId}/usage")

# --- flows, history, outputs -------------------------------------------------------------
FLOWS = Endpoint("GET", "/v1/orgs/{orgId}/flows")
FLOW_CREATE = Endpoint("POST", "/v1/orgs/{orgId}/flows")
FLOW = Endpoint("GET", "/v1/orgs/{orgId}/flows/{flowId}")
FLOW_SAVE = Endpoint("PUT", "/v1/orgs/{orgId}/flows/{flowId}")
FLOW_PATCH = Endpoint("PATCH", "/v1/orgs/{orgId}/flows/{flowId}")
FLOW_DELETE = Endpoint("DELETE", "/v1/orgs/{orgId}/flows/{flowId}")
FLOW_UNDELETE = Endpoint("POST", "/v1/orgs/{orgId}/flows/{flowId}/restore")
VERSIONS = Endpoint("GET", "/v1/orgs/{orgId}/flows/{flowId}/versions")
VERSION = Endpoint("GET", "/v1/orgs/{orgId}/flows/{flowId}/versions/{version}")
VERSION_DIFF = Endpoint("GET", "/v1/orgs/{orgId}/flows/{flowId}/versions/{a}/diff/{b}")
VERSION_RESTORE = Endpoint("POST", "/v1/orgs/{orgId}/flows/{flowId}/versions/{version}/restore")
OUTPUTS = Endpoint("GET", "/v1/orgs/{orgId}/flows/{flowId}/outputs")
OUTPUT_WRITE = Endpoint("POST", "/v1/orgs/{orgId}/flows/{flowId}/outputs")

# --- engine ------------------------------------------------------------------------------
NODE_TYPES = Endpoint("GET", "/v1/node-types")
RUN_START = Endpoint("POST", "/v1/orgs/{orgId}/flows/{flowId}/runs")
RUNS = Endpoint("GET", "/v1/orgs/{orgId}/runs")
RUN = Endpoint("GET", "/v1/orgs/{orgId}/runs/{runId}")
RUN_CANCEL = Endpoint("POST", "/v1/orgs/{orgId}/runs/{runId}/cancel")
SCHEDULES = Endpoint("GET", "/v1/orgs/{orgId}/flows/{flowId}/schedules")
SCHEDULE_CREATE = Endpoint("POST", "/v1/orgs/{orgId}/flows/{flowId}/schedules")
SCHEDULE_UPDATE = Endpoint("PATCH", "/v1/orgs/{orgId}/flows/{flowId}/schedules/{scheduleId}")
SCHEDULE_DELETE = Endpoint("DELETE", "/v1/orgs/{orgId}/flows/{flowId}/schedules/{scheduleId}")
WEBHOOKS = Endpoint("GET", "/v1/orgs/{orgId}/flows/{flowId}/webhooks")
WEBHOOK_CREATE = Endpoint("POST", "/v1/orgs/{orgId}/flows/{flowId}/webhooks")
WEBHOOK_DELETE = Endpoint("DELETE", "/v1/orgs/{orgId}/flows/{flowId}/webhooks/{webhookId}")
EVENT_WEBHOOKS = Endpoint("GET", "/v1/orgs/{orgId}/event-webhooks")
EVENT_WEBHOOK_CREATE = Endpoint("POST", "/v1/orgs/{orgId}/event-webhooks")
EVENT_WEBHOOK_DELETE = Endpoint("DELETE", "/v1/orgs/{orgId}/event-webhooks/{webhookId}")
EVENT_DELIVERIES = Endpoint("GET", "/v1/orgs/{orgId}/event-webhooks/{webhookId}/deliveries")
WEBHOOK_ROTATE = Endpoint(
    "POST", "/v1/orgs/{orgId}/flows/{flowId}/webhooks/{webhookId}/rotate-secret"
)

# --- real time ---------------------------------------------------------------------------
SYNC = Endpoint("WS", "/v1/sync")
COLLAB = Endpoint("WS", "/v1/collab/{org_id}/{flow_id}")

ENDPOINTS: list[Endpoint] = [v for v in list(globals().values()) if isinstance(v, Endpoint)]
"""Every endpoint the SDK has a method for."""

NOT_IN_SDK: dict[str, str] = {
    "GET /metrics": "operators scrape it with Prometheus",
    "POST /v1/hooks/{webhookId}": "called by the sending service, signed with its own "
    "Standard Webhooks library",
    "POST /v1/auth/verify-email": "email verification",
    "POST /v1/auth/resend-verification": "email verification",
    "GET /v1/me/export": "personal data export",
    "DELETE /v1/me": "account erasure",
    "PATCH /v1/me": "notification preferences",
    "GET /v1/orgs/{orgId}/export": "flows and outputs as JSON, CSV or XML",
    "GET /v1/orgs/{orgId}/flows/{flowId}/export": "a flow as JSON, CSV or XML",
    "POST /v1/orgs/{orgId}/export": "organization archive",
    "POST /v1/orgs/import": "organization archive",
    "GET /v1/orgs/{orgId}/audit": "audit log",
    "GET /v1/orgs/{orgId}/audit/verify": "audit log",
    "POST /v1/orgs/{orgId}/flows/{flowId}/comments": "comments",
    "GET /v1/orgs/{orgId}/flows/{flowId}/comments": "comments",
    "PATCH /v1/orgs/{orgId}/flows/{flowId}/comments/{commentId}": "comments",
    "DELETE /v1/orgs/{orgId}/flows/{flowId}/comments/{commentId}": "comments",
    "GET /v1/notifications": "notifications",
    "POST /v1/notifications/read": "notifications",
    "POST /v1/orgs/{orgId}/tasks": "tasks",
    "GET /v1/orgs/{orgId}/tasks": "tasks",
    "GET /v1/orgs/{orgId}/tasks/{taskId}": "tasks",
    "PATCH /v1/orgs/{orgId}/tasks/{taskId}": "tasks",
    "DELETE /v1/orgs/{orgId}/tasks/{taskId}": "tasks",
    "POST /v1/orgs/{orgId}/templates": "templates",
    "GET /v1/orgs/{orgId}/templates": "templates",
    "POST /v1/orgs/{orgId}/templates/import": "templates",
    "GET /v1/orgs/{orgId}/templates/{templateId}": "templates",
    "GET /v1/orgs/{orgId}/templates/{templateId}/export": "templates",
    "DELETE /v1/orgs/{orgId}/templates/{templateId}": "templates",
    "POST /v1/orgs/{orgId}/templates/{templateId}/instantiate": "templates",
    "POST /v1/orgs/{orgId}/flows/{flowId}/copy": "cross-org copy",
    "POST /v1/orgs/{orgId}/clipboard/paste": "cross-org paste",
    "GET /v1/orgs/{orgId}/analytics": "analytics",
    "GET /v1/orgs/{orgId}/billing/usage": "metering",
    "GET /v1/admin/billing/usage": "instance administration",
    "GET /v1/admin/backups": "instance administration",
    "GET /v1/admin/orgs": "instance administration",
    "PATCH /v1/admin/orgs/{orgId}": "instance administration",
    "GET /v1/admin/usage": "instance administration",
    "GET /v1/orgs/{orgId}/flows/{flowId}/follow": "following a flow",
    "POST /v1/orgs/{orgId}/flows/{flowId}/follow": "following a flow",
    "DELETE /v1/orgs/{orgId}/flows/{flowId}/follow": "following a flow",
    "POST /v1/orgs/{orgId}/dashboards": "dashboards",
    "GET /v1/orgs/{orgId}/dashboards": "dashboards",
    "GET /v1/orgs/{orgId}/dashboards/{dashboardId}": "dashboards",
    "PATCH /v1/orgs/{orgId}/dashboards/{dashboardId}": "dashboards",
    "DELETE /v1/orgs/{orgId}/dashboards/{dashboardId}": "dashboards",
    "GET /v1/orgs/{orgId}/dashboards/{dashboardId}/data": "dashboards",
}
"""Endpoints of the server the SDK does not speak yet, with what they are; send them with
``client.send(Endpoint(...).call(...))`` meanwhile. docs/sdk.md lists the same."""
