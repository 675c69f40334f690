"""The SDK speaks every endpoint of the server, bar a documented list.

The server's route table is the reference: a new endpoint fails this test until the SDK
has a method for it or ``NOT_IN_SDK`` (and docs/sdk.md) names it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute
from starlette.routing import WebSocketRoute

from minibase.app import create_app
from minibase.client.calls import ENDPOINTS, NOT_IN_SDK
from minibase.config import Settings
from tests.test_access_matrix import _effective_routes

DOC = Path(__file__).parents[2] / "docs" / "sdk.md"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("routes")), run_migrations=False)


def served(app: FastAPI) -> set[str]:
    """``METHOD /path`` of every documented HTTP route and every WebSocket route."""
    found = {
        f"{method} {route.path}"
        for route in _effective_routes(app)
        if route.include_in_schema
        for method in set(route.methods) - {"HEAD"}
    }
    for route in app.routes:
        if isinstance(route, WebSocketRoute | APIWebSocketRoute):
            found.add(f"WS {route.path}")
        for context in getattr(route, "effective_route_contexts", lambda: [])():
            original = getattr(context, "original_route", None)
            if isinstance(original, APIWebSocketRoute):
                found.add(f"WS {context.path or original.path}")
    return found


def test_every_endpoint_is_in_the_sdk_or_listed(app: FastAPI) -> None:
    in_sdk = {f"{e.method} {e.template}" for e in ENDPOINTS}
    assert served(app) - in_sdk - NOT_IN_SDK.keys() == set()


def test_the_lists_are_not_stale(app: FastAPI) -> None:
    routes = served(app)
    in_sdk = {f"{e.method} {e.template}" for e in ENDPOINTS}
    assert in_sdk - routes == set(), "the SDK declares endpoints the server does not have"
    assert NOT_IN_SDK.keys() - routes == set(), "NOT_IN_SDK names endpoints that are gone"
    assert NOT_IN_SDK.keys() & in_sdk == set(), "NOT_IN_SDK names endpoints the SDK has"


def test_the_guide_lists_what_the_sdk_lacks() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert [e for e in NOT_IN_SDK if f"`{e}`" not in text] == []
