"""``/v1/auth/*`` and ``/v1/me``: signup, login, logout, the signed-in user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from starlette.background import BackgroundTask
from starlette.responses import Response

from minibase.api.deps import app_context, current_principal, current_user, request_meta
from minibase.api.schemas import Body
from minibase.api.shapes import SIGNED_IN, WRITE
from minibase.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from minibase.domain.emails import MAX_EMAIL_LENGTH
from minibase.domain.principal import Principal
from minibase.http.errors import error_response
from minibase.http.responses import json_response
from minibase.services import accounts, email_verification

router = APIRouter(prefix="/v1", tags=["auth"], responses=SIGNED_IN)


class SignupBody(Body):
    email: str = Field(
        max_length=MAX_EMAIL_LENGTH,
        description="Normalized (NFKC, case-folded); invisible characters are refused.",
    )
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    name: str | None = Field(None, max_length=200)


class PasswordBody(Body):
    currentPassword: str = Field(max_length=MAX_PASSWORD_LENGTH)
    newPassword: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    endOtherSessions: bool = True


class LoginBody(Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class TokenBody(Body):
    token: str = Field(min_length=1, max_length=200)


class EmailBody(Body):
    email: str = Field(max_length=MAX_EMAIL_LENGTH)


@router.post(
    "/auth/signup",
    status_code=201,
    summary=(
        "Create an account and sign in (with MINIBASE_REQUIRE_EMAIL_VERIFICATION: "
        "token null, a verification link is sent)"
    ),
    responses=WRITE,
)
async def signup(body: SignupBody, request: Request) -> Response:
    ctx = app_context(request)
    signed_in = await accounts.signup(
        ctx.store,
        ctx.settings,
        body.email,
        body.password,
        body.name,
        request_meta(request),
        ctx.invitation_sender,
    )
    answer: dict[str, Any] = {"user": signed_in.user, "token": signed_in.token}
    if signed_in.token is None:
        answer["verificationSent"] = True
    return json_response(answer, status_code=201)


@router.post(
    "/auth/verify-email",
    summary="Use an email verification link's token (once): the address is verified, signed in",
    responses=WRITE,
)
async def verify_email(body: TokenBody, request: Request) -> Response:
    ctx = app_context(request)
    user_id = await email_verification.verify(ctx.store, body.token)
    signed_in = await accounts.sign_in_verified(
        ctx.store, ctx.settings, user_id, request_meta(request)
    )
    return json_response({"user": signed_in.user, "token": signed_in.token})


@router.post(
    "/auth/resend-verification",
    status_code=202,
    summary="Send a new verification link (always 202: reveals no account)",
    responses=WRITE,
)
async def resend_verification(body: EmailBody, request: Request) -> Response:
    ctx = app_context(request)
    await accounts.resend_verification(
        ctx.store, ctx.settings, ctx.invitation_sender, body.email, request_meta(request)
    )
    return Response(status_code=202)


@router.post("/auth/login", summary="Sign in: a new session token", responses=WRITE)
async def login(body: LoginBody, request: Request) -> Response:
    ctx = app_context(request)
    try:
        signed_in = await accounts.login(
            ctx.store, ctx.settings, body.email, body.password, request_meta(request)
        )
    except accounts.LoginFailed as failure:
        response = error_response(failure)
        response.background = BackgroundTask(failure.record)
        return response
    return json_response({"user": signed_in.user, "token": signed_in.token})


@router.post("/auth/logout", status_code=204, summary="End this session at once")
async def logout(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Response:
    await accounts.logout(app_context(request).store, principal, request_meta(request))
    return Response(status_code=204)


@router.post(
    "/auth/password",
    status_code=204,
    summary="Change the password; other sessions end unless endOtherSessions is false",
    responses=WRITE,
)
async def change_password(
    body: PasswordBody,
    request: Request,
    principal: Annotated[Principal, Depends(current_user)],
) -> Response:
    ctx = app_context(request)
    await accounts.change_password(
        ctx.store,
        ctx.settings,
        principal,
        body.currentPassword,
        body.newPassword,
        body.endOtherSessions,
        request_meta(request),
    )
    return Response(status_code=204)


@router.get("/me", summary="The signed-in user and their memberships")
async def me(request: Request, principal: Annotated[Principal, Depends(current_user)]) -> Response:
    return json_response(await accounts.me(app_context(request).store, principal))
