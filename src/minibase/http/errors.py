"""Turn every failure into the contract's error JSON, never an HTML page or a traceback."""

from __future__ import annotations

import logging
from typing import Any, cast

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from minibase.context import AppContext
from minibase.domain.principal import Principal
from minibase.errors import (
    BadRequest,
    MethodNotAllowed,
    MinibaseError,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from minibase.http.responses import json_response
from minibase.logs import request_extra
from minibase.services import audit
from minibase.services.audit import RequestMeta

log = logging.getLogger("minibase.errors")


def error_response(error: MinibaseError) -> Response:
    return json_response(error.to_body(), status_code=error.status, headers=error.headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    fields = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        fields.append(
            {
                "field": ".".join(loc),
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "invalid"),
            }
        )
    return fields


def _is_json_content_type(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


async def _on_minibase_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MinibaseError)
    if exc.status == 403 and not exc.audited:
        await _audit_refusal(request, exc)
    return error_response(exc)


async def _audit_refusal(request: Request, exc: MinibaseError) -> None:
    """Every 403 inside an organization (a role, a plan, a quota) is in its audit log as
    a denied attempt, in a transaction of its own (the refused change rolled back)."""
    org_id = request.path_params.get("orgId")
    principal = getattr(request.state, "principal", None)
    if not isinstance(org_id, str) or not isinstance(principal, Principal):
        return
    ctx = cast(AppContext, request.app.state.ctx)
    meta = RequestMeta(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
    try:
        await audit.record_separately(
            ctx.store,
            org_id,
            principal,
            exc.code,
            "route",
            f"{request.method} {request.url.path}",
            meta=meta,
            outcome="denied",
            details={"code": exc.code, **exc.details},
        )
    except NotFound:
        return  # no such org: nothing to record it in
    exc.audited = True


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    body_errors = [e for e in errors if e.get("loc", ("",))[0] == "body"]
    if body_errors:
        if any(e.get("type") == "json_invalid" for e in body_errors):
            return error_response(BadRequest("The body is not valid JSON."))
        if not _is_json_content_type(request):
            return error_response(BadRequest("The body must be JSON (application/json)."))
    return error_response(ValidationFailed(_field_errors(exc)))


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error: MinibaseError
    if exc.status_code == 404:
        error = NotFound("No such route." if exc.detail == "Not Found" else str(exc.detail))
    elif exc.status_code == 405:
        error = MethodNotAllowed()
    elif exc.status_code == 413:
        error = PayloadTooLarge()
    elif exc.status_code == 400:
        error = BadRequest(str(exc.detail))
    else:
        return json_response(
            {"error": {"code": "http_error", "message": str(exc.detail), "details": {}}},
            status_code=exc.status_code,
            headers=dict(exc.headers or {}),
        )
    return error_response(error)


def error_for_unexpected(exc: Exception) -> MinibaseError:
    """The contract error for an exception no handler knew.

    Values a driver or the serializer cannot hold (a number beyond 64 bits, JSON nested
    deeper than the serializer goes, a string the database's encoding refuses) are the
    client's input, checked at the door where a route declares them (``http/input_guard``,
    the routes' bounds); this is the net under those checks: 422, never a 500.
    Anything else is a 500 ``internal_error``.
    """
    if isinstance(exc, orjson.JSONEncodeError | OverflowError | RecursionError | DataError):
        message = "A value is out of range, nested too deeply or holds invalid characters."
        return ValidationFailed([{"field": "", "message": message, "type": "value_error"}], message)
    return MinibaseError()


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    error = error_for_unexpected(exc)
    if error.status < 500:
        return error_response(error)
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={
            "path": request.url.path,
            **request_extra(request.scope.get("state", {}).get("request_id", "")),
        },
    )
    return error_response(MinibaseError())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MinibaseError, _on_minibase_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)
