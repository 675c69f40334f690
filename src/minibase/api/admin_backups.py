"""``GET /v1/admin/backups``: the latest backups and their verification (instance admins)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from minibase.api.admin import Admin
from minibase.api.deps import app_context
from minibase.api.shapes import SIGNED_IN, error
from minibase.http.responses import json_response
from minibase.services import backups

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=SIGNED_IN)


@router.get(
    "/backups",
    summary="Backups in MINIBASE_BACKUP_DIR, newest first, with their verification",
    responses=error(404, "The caller is not an instance admin (`not_found`)."),
)
async def list_backups(
    request: Request,
    admin: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    ctx = app_context(request)
    directory = Path(ctx.settings.backup_dir)
    items = backups.list_statuses(directory, limit=limit + 1, before=cursor)
    more = len(items) > limit
    items = items[:limit]
    return json_response(
        {
            "items": items,
            "nextCursor": items[-1]["id"] if more else None,
            "schedule": ctx.settings.backup_schedule or None,
            "keep": ctx.settings.backup_keep,
        }
    )
