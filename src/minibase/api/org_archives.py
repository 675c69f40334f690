"""Organization archives: ``POST /v1/orgs/{orgId}/export`` and ``POST /v1/orgs/import``."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response, StreamingResponse

from minibase.api.deps import OrgAccess, Require, app_context, current_user, request_meta
from minibase.api.shapes import IN_ORG, SIGNED_IN, errors
from minibase.domain.principal import Principal
from minibase.domain.roles import Action
from minibase.errors import BadRequest, ValidationFailed
from minibase.http.responses import json_response
from minibase.services import org_export, org_import
from minibase.services.instance_admins import is_instance_admin

router = APIRouter(prefix="/v1/orgs", tags=["organization archives"])

_EXPORT_ERRORS = {**IN_ORG, **errors(400)}
_IMPORT_ERRORS = {**SIGNED_IN, **errors(400, 409, 413)}

IMPORT_PATH = "/v1/orgs/import"
PASSPHRASE_HEADER = "x-archive-passphrase"  # noqa: S105 (a header name)
MIN_PASSPHRASE = 8

Exporter = Annotated[OrgAccess, Depends(Require(Action.ORG_EXPORT))]


async def _passphrase_of(request: Request) -> str | None:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("The body is not JSON.") from None
    if not isinstance(body, dict) or set(body) - {"passphrase"}:
        raise ValidationFailed(
            [{"field": "body", "message": "Only `passphrase` may be given.", "type": "extra"}]
        )
    passphrase = body.get("passphrase")
    if passphrase is None:
        return None
    if not isinstance(passphrase, str) or len(passphrase) < MIN_PASSPHRASE:
        raise ValidationFailed(
            [
                {
                    "field": "passphrase",
                    "message": f"A string of at least {MIN_PASSPHRASE} characters.",
                    "type": "string_too_short",
                }
            ]
        )
    return passphrase


@router.post(
    "/{orgId}/export",
    summary="The whole organization as a zip archive, streamed (optionally sealed)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}, "application/octet-stream": {}}},
        **_EXPORT_ERRORS,
    },
)
async def export_archive(request: Request, access: Exporter) -> Response:
    passphrase = await _passphrase_of(request)
    ctx = app_context(request)
    chunks = org_export.export_stream(ctx.store, access.principal, access.org_id, passphrase)
    name = f"{access.org_id}.zip"
    media = "application/zip"
    if passphrase is not None:
        name, media = f"{access.org_id}.zip.mbseal", "application/octet-stream"
    return StreamingResponse(
        chunks,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _spool(request: Request, out: IO[bytes]) -> None:
    async for chunk in request.stream():
        out.write(chunk)
    out.flush()


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="minibase-import-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@router.post(
    "/import",
    status_code=201,
    summary="Import an organization archive as a new organization (the caller its admin)",
    responses=_IMPORT_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def import_archive(
    request: Request,
    principal: Annotated[Principal, Depends(current_user)],
    ids: Annotated[Literal["keep", "new"], Query()] = "keep",
) -> Response:
    ctx = app_context(request)
    with _workdir() as workdir:
        spooled = workdir / "upload"
        with spooled.open("wb") as out:
            await _spool(request, out)
        archive = org_import.unseal(spooled, request.headers.get(PASSPHRASE_HEADER), workdir)
        checked = org_import.check(archive)
        try:
            result = await org_import.import_org(
                ctx.store,
                principal,
                checked,
                ids=ids,
                keep_plan=await is_instance_admin(ctx.store, ctx.settings, principal),
                meta=request_meta(request),
            )
        finally:
            checked.zf.close()
    return json_response({**result["organization"], "importReport": result["report"]}, 201)
