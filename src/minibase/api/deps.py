"""Request dependencies shared by the routers: who is calling, and may they.

Every org-scoped route declares exactly one :func:`require` dependency naming the
:class:`~minibase.domain.roles.Action` it performs; the permission table in
``domain/roles.py`` decides. The IDOR and role-matrix tests read these declarations
from the app's own route table, so a route without one fails them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import Depends
from starlette.requests import HTTPConnection, Request

from minibase.auth.credentials import authenticate
from minibase.context import AppContext
from minibase.domain.principal import Principal
from minibase.domain.roles import Action, Role, is_allowed
from minibase.errors import Forbidden, Unauthenticated
from minibase.services import audit
from minibase.services.audit import RequestMeta
from minibase.services.orgs import role_in


def app_context(conn: HTTPConnection) -> AppContext:
    """The running instance's shared objects."""
    return cast(AppContext, conn.app.state.ctx)


def request_meta(conn: HTTPConnection) -> RequestMeta:
    return RequestMeta(
        ip=conn.client.host if conn.client else None,
        user_agent=conn.headers.get("user-agent"),
    )


def bearer_token(conn: HTTPConnection) -> str:
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send `Authorization: Bearer <token>`.")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    """The authenticated caller (session token or API key), or 401."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cast(Principal, cached)
    ctx = app_context(request)
    principal = await authenticate(ctx.store, ctx.settings, bearer_token(request))
    request.state.principal = principal
    return principal


async def current_user(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    """A signed-in user; API keys may not use user endpoints (401)."""
    if principal.kind != "user":
        raise Unauthenticated("This endpoint needs a user's session token, not an API key.")
    return principal


@dataclass(frozen=True, slots=True)
class OrgAccess:
    """An authorized caller inside one organization."""

    org_id: str
    principal: Principal
    role: Role
    meta: RequestMeta


ORG_ID_PARAMETER = {
    "name": "orgId",
    "in": "path",
    "required": True,
    "description": "Organization id (org_...)",
    "schema": {"type": "string", "title": "Orgid"},
}
"""``orgId`` in the OpenAPI document: :func:`require` reads it from the path itself."""


def document_org_id(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare ``orgId`` on every operation whose path has it (see :func:`require`)."""
    for path, operations in schema.get("paths", {}).items():
        if "{orgId}" not in path:
            continue
        for operation in operations.values():
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == "orgId" for p in parameters):
                parameters.insert(0, ORG_ID_PARAMETER)
    return schema


def require(
    action: Action, *, on_self: Action | None = None, self_param: str = "userId"
) -> Callable[..., Awaitable[OrgAccess]]:
    """A dependency: the caller must be in ``orgId`` with a role allowed ``action``.

    Not a member (or another org's API key): 404, the same as a random id. A member whose
    role lacks the action: 403, recorded in the org's audit log as a denied attempt.
    With ``on_self``, a user acting on their own ``self_param`` (e.g. leaving the org)
    needs ``on_self`` instead; the permission table still decides both.
    """

    async def dependency(request: Request) -> OrgAccess:
        # The principal is resolved here rather than as a sub-dependency, and the org id
        # read from the path here rather than declared as a parameter: this runs on
        # every org-scoped request, and FastAPI's parameter resolution is costly.
        org_id: str = request.path_params["orgId"]
        principal = await current_principal(request)
        ctx = app_context(request)
        role = await role_in(ctx.store, org_id, principal)
        meta = request_meta(request)
        needed = action
        if (
            on_self is not None
            and principal.user_id is not None
            and request.path_params.get(self_param) == principal.user_id
        ):
            needed = on_self
        if not is_allowed(role, needed):
            await audit.record_separately(
                ctx.store,
                org_id,
                principal,
                needed.value,
                "route",
                f"{request.method} {request.url.path}",
                meta=meta,
                outcome="denied",
                details={"role": role.value},
            )
            raise Forbidden(f"The {role.value} role may not {needed.value}.")
        return OrgAccess(org_id=org_id, principal=principal, role=role, meta=meta)

    dependency.action = action  # type: ignore[attr-defined]
    dependency.on_self = on_self  # type: ignore[attr-defined]
    return dependency
