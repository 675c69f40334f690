"""What the routes answer, as OpenAPI schemas: the error body and the hot responses.

The handlers return bytes they built themselves (the flow document is stored as JSON and
sent as it is), so these models only *describe* responses: a route names them in
``responses=`` and FastAPI puts them in the document without validating or serializing
anything on the request path.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="snake_case error code, e.g. `not_found`")
    message: str = Field(description="A human sentence.")
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """Every error, whatever its status: never an HTML page or a bare 500."""

    error: ErrorDetail


_WHEN = {
    400: "The body is not JSON, or not the expected content type (`bad_request`).",
    401: "No, unknown, expired or revoked token (`unauthenticated`).",
    403: (
        "A member whose role may not do this (`forbidden`), or a plan limit would be "
        "passed (`quota_exceeded`)."
    ),
    404: ("No such object, or it belongs to an organization the caller is not in (`not_found`)."),
    409: "A uniqueness or state conflict (`conflict`, `version_conflict`).",
    413: "The request or the document is over the configured size (`payload_too_large`).",
    422: "Invalid fields; `details.fields` lists them (`validation_error`).",
    428: "A flow `PUT` without `baseVersion` (`precondition_required`).",
    429: "Too many requests; see `Retry-After` (`rate_limited`).",
    500: "A fault of the server (`internal_error`); the `X-Request-Id` names it in the log.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` declaring these error statuses, each with the contract's error body."""
    return {status: {"model": ErrorBody, "description": _WHEN[status]} for status in statuses}


def error(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` declaring one error status with a description of its own."""
    return {status: {"model": ErrorBody, "description": description}}


SIGNED_IN = errors(401, 422, 429, 500)
"""Every route of a signed-in caller outside an organization's path (``/v1/me`` ...)."""
IN_ORG = errors(401, 403, 404, 422, 429, 500)
"""Every route under ``/v1/orgs/{orgId}``: another org's object is a 404."""
WRITE = errors(400, 403, 409, 413)
"""A route that takes a body: not JSON, a quota, a conflict, too large."""


class Node(BaseModel):
    """A React Flow node; every other field is kept as sent."""

    model_config = ConfigDict(extra="allow")
    id: str
    type: str
    position: dict[str, float]
    data: dict[str, Any] = Field(default_factory=dict)


class Edge(BaseModel):
    """A React Flow edge; every other field is kept as sent."""

    model_config = ConfigDict(extra="allow")
    id: str
    source: str
    target: str


class Flow(BaseModel):
    """A flow: its document and its metadata (``ETag`` carries ``version``)."""

    model_config = ConfigDict(extra="allow")
    id: str
    organizationId: str
    name: str
    nodes: list[Node]
    edges: list[Edge]
    version: int
    createdBy: str
    lastModified: int = Field(description="Milliseconds since the Unix epoch.")


class FlowSummary(BaseModel):
    id: str
    name: str
    version: int
    lastModified: int
    createdBy: str
    nodeCount: int
    edgeCount: int


class FlowPage(BaseModel):
    items: list[FlowSummary]
    nextCursor: str | None


def answers(model: type[BaseModel], status: int = 200) -> dict[int | str, dict[str, Any]]:
    """``responses=`` naming the success body of a route that returns its own bytes."""
    return {status: {"model": model, "description": model.__doc__ or "Success."}}
