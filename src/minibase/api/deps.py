"""Request dependencies shared by the routers."""

from __future__ import annotations

from typing import cast

from starlette.requests import HTTPConnection

from minibase.context import AppContext


def app_context(conn: HTTPConnection) -> AppContext:
    """The running instance's shared objects."""
    return cast(AppContext, conn.app.state.ctx)
