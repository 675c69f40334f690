"""The API's resources as typed dictionaries: exactly the JSON the server sends.

Keys keep the API's camelCase (``organizationId``, ``lastModified``); times are integers,
milliseconds since the Unix epoch. ``NotRequired`` marks what an answer may leave out.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Role = Literal["admin", "editor", "viewer"]
JSON = Any


class User(TypedDict):
    id: str
    email: str
    name: str | None


class Session(TypedDict):
    """Signup and login: the user and a session token."""

    user: User
    token: str


class OrgRef(TypedDict):
    id: str
    name: str


class Membership(TypedDict):
    organization: OrgRef
    role: Role


class Me(TypedDict):
    user: User
    memberships: list[Membership]


class OrgSettings(TypedDict, total=False):
    maxNodes: int | None
    maxFlows: int | None
    allowedNodeTypes: list[str] | None
    storageQuota: int | None
    retention: dict[str, int | None] | None


class UsageMetrics(TypedDict):
    nodesUsed: int
    flowsCreated: int
    storageUsed: int


class Billing(TypedDict):
    plan: Literal["free", "pro", "enterprise"]
    subscriptionId: str | None
    usageMetrics: UsageMetrics


class Org(TypedDict):
    id: str
    name: str
    settings: OrgSettings
    billing: Billing


class Member(TypedDict):
    user: User
    role: Role


class Invitation(TypedDict):
    id: str
    email: str
    role: Role
    expiresAt: int
    token: NotRequired[str]
    """Only in the answer that created it."""


class Accepted(TypedDict):
    organization: OrgRef
    role: Role


class ApiKey(TypedDict):
    id: str
    name: str
    role: Role
    key: NotRequired[str]
    """Only in the answer that created it."""


class SocketTicket(TypedDict):
    ticket: str
    expiresAt: int


class Position(TypedDict):
    x: float
    y: float


class Node(TypedDict):
    """A React Flow node; other fields are kept as given."""

    id: str
    type: str
    position: Position
    data: dict[str, JSON]


class Edge(TypedDict):
    """A React Flow edge (``sourceHandle``, ``targetHandle``, ``type``, ``data`` optional)."""

    id: str
    source: str
    target: str


class Flow(TypedDict):
    id: str
    organizationId: str
    name: str
    nodes: list[Node]
    edges: list[Edge]
    createdBy: str
    version: int
    lastModified: int
    conflicts: NotRequired[list[JSON]]
    """After a three-way merge: the fields where the request won over a concurrent change."""


class FlowSummary(TypedDict):
    id: str
    name: str
    version: int
    lastModified: int
    createdBy: str
    nodeCount: int
    edgeCount: int


class VersionSummary(TypedDict):
    version: int
    createdBy: str
    createdAt: int
    summary: dict[str, JSON]


class Output(TypedDict):
    id: str
    organizationId: str
    flowId: str
    nodeId: str
    output: JSON
    timestamp: int
    computeTime: float
    runId: NotRequired[str | None]
    cached: NotRequired[bool]


class Quota(TypedDict):
    used: int
    limit: int | None


class Usage(TypedDict):
    flows: Quota
    nodes: Quota
    storage: Quota
    warnings: list[dict[str, JSON]]


class RunError(TypedDict):
    code: str
    message: str
    nodeId: NotRequired[str]


class RunNode(TypedDict):
    nodeId: str
    type: str
    status: Literal["pending", "running", "succeeded", "failed", "skipped", "canceled"]
    cached: bool
    startedAt: int | None
    finishedAt: int | None
    computeTime: float | None
    outputId: str | None
    error: RunError | None


RunStatus = Literal["queued", "running", "succeeded", "failed", "canceled", "timed_out"]


class Run(TypedDict):
    id: str
    organizationId: str
    flowId: str
    flowVersion: int
    status: RunStatus
    trigger: dict[str, JSON]
    createdBy: str | None
    createdAt: int
    startedAt: int | None
    finishedAt: int | None
    error: RunError | None
    nodes: list[RunNode]


class NodeType(TypedDict):
    type: str
    version: JSON
    category: str
    title: str
    description: str
    inputs: list[dict[str, JSON]]
    outputs: list[dict[str, JSON]]
    configSchema: dict[str, JSON]


class Health(TypedDict):
    status: str


class Schedule(TypedDict):
    id: str
    flowId: str
    cron: str
    timezone: str
    inputs: dict[str, JSON] | None
    enabled: bool
    nextRunAt: int | None
    lastRunAt: int | None
    lastRunId: str | None


class FlowWebhook(TypedDict):
    """An inbound webhook; ``secret`` only in the answers of create and rotate."""

    id: str
    flowId: str
    name: str | None
    url: str
    createdAt: int
    rotatedAt: int | None
    secret: NotRequired[str]


class EventWebhook(TypedDict):
    """An outbound event webhook; ``secret`` only in the answer of create."""

    id: str
    url: str
    events: list[str]
    createdAt: int
    secret: NotRequired[str]


class EventDelivery(TypedDict):
    id: str
    webhookId: str
    event: str
    status: str
    attempts: int
    responseStatus: int | None
    error: str | None
    nextAttemptAt: int | None
    lastAttemptAt: int | None
    deliveredAt: int | None
    createdAt: int
    payload: dict[str, JSON]
