"""Request dependencies shared by the routers: who is calling, and may they.

Every org-scoped route declares exactly one :class:`Require` dependency naming the
:class:`~minibase.domain.roles.Action` it performs; the permission table in
``domain/roles.py`` decides. The IDOR and role-matrix tests read these declarations
from the app's own route table, so a route without one fails them.

Both are ordinary FastAPI dependencies: the bearer token is read by a security scheme
(:data:`BEARER`, so the OpenAPI document states how to authenticate) and ``orgId`` is a
declared path parameter, so the document FastAPI generates describes every route as it
is, with nothing patched in afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Path, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection, Request

from minibase.auth.credentials import authenticate
from minibase.context import AppContext
from minibase.domain.principal import Principal
from minibase.domain.roles import Action, Role, is_allowed
from minibase.errors import Forbidden, Unauthenticated
from minibase.services import audit
from minibase.services.audit import RequestMeta
from minibase.services.orgs import role_in

BEARER = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="mb_sess_... or mb_key_...",
    description=(
        "A session token (from signup or login) or an organization's API key, as "
        "`Authorization: Bearer <token>`."
    ),
    auto_error=False,
)
"""The one way to authenticate a request: a bearer token (the contract's 401 if absent)."""


def app_context(conn: HTTPConnection) -> AppContext:
    """The running instance's shared objects."""
    return cast(AppContext, conn.app.state.ctx)


def request_meta(conn: HTTPConnection) -> RequestMeta:
    return RequestMeta(
        ip=conn.client.host if conn.client else None,
        user_agent=conn.headers.get("user-agent"),
    )


def bearer_token(conn: HTTPConnection) -> str:
    """The request's bearer token, or 401 (for the few handlers that need the token itself)."""
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send `Authorization: Bearer <token>`.")
    return token.strip()


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> Principal:
    """The authenticated caller (session token or API key), or 401."""
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise Unauthenticated("Send `Authorization: Bearer <token>`.")
    ctx = app_context(request)
    principal = await authenticate(ctx.store, ctx.settings, token)
    # Kept for the error handlers: a refused 403 is audited as this principal's.
    request.state.principal = principal
    return principal


async def current_user(
    principal: Annotated[Principal, Security(current_principal)],
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


class Require:
    """A dependency: the caller must be in ``orgId`` with a role allowed ``action``.

    Not a member (or another org's API key): 404, the same as a random id. A member whose
    role lacks the action: 403, recorded in the org's audit log as a denied attempt.
    With ``on_self``, a user acting on their own ``self_param`` (e.g. leaving the org)
    needs ``on_self`` instead; the permission table still decides both.
    """

    def __init__(
        self, action: Action, *, on_self: Action | None = None, self_param: str = "userId"
    ) -> None:
        self.action = action
        self.on_self = on_self
        self.self_param = self_param

    async def __call__(
        self,
        request: Request,
        org_id: Annotated[str, Path(alias="orgId", description="Organization id (org_...)")],
        principal: Annotated[Principal, Security(current_principal)],
    ) -> OrgAccess:
        ctx = app_context(request)
        role = await role_in(ctx.store, org_id, principal)
        meta = request_meta(request)
        needed = self.action
        if (
            self.on_self is not None
            and principal.user_id is not None
            and request.path_params.get(self.self_param) == principal.user_id
        ):
            needed = self.on_self
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
            refused = Forbidden(f"The {role.value} role may not {needed.value}.")
            refused.audited = True
            raise refused
        return OrgAccess(org_id=org_id, principal=principal, role=role, meta=meta)
