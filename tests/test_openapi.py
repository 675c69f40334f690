"""The OpenAPI document FastAPI generates is the routes, as they are: nothing patched in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from minibase.api.deps import current_principal
from minibase.app import create_app
from minibase.config import Settings
from tests.test_access_matrix import _effective_routes, _walk

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("openapi")), run_migrations=False)


def documented_routes(app: FastAPI) -> list[APIRoute]:
    routes = [r for r in _effective_routes(app) if r.include_in_schema]
    assert len(routes) >= 40
    return routes


def test_the_document_lists_exactly_the_routes(app: FastAPI) -> None:
    spec = app.openapi()
    documented = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in METHODS
    }
    routed = {
        (method, route.path)
        for route in documented_routes(app)
        for method in route.methods - {"HEAD"}
    }
    assert documented == routed


def operation(spec: dict[str, Any], route: APIRoute, method: str) -> dict[str, Any]:
    op: dict[str, Any] = spec["paths"][route.path][method.lower()]
    return op


def test_every_path_parameter_is_declared(app: FastAPI) -> None:
    spec = app.openapi()
    missing = []
    for route in documented_routes(app):
        for method in route.methods - {"HEAD"}:
            declared = {
                p["name"]
                for p in operation(spec, route, method).get("parameters", [])
                if p["in"] == "path"
            }
            for name in re.findall(r"{(\w+)}", route.path):
                if name not in declared:
                    missing.append(f"{method} {route.path}: {name}")
    assert missing == []


def test_authenticated_routes_declare_the_bearer_scheme(app: FastAPI) -> None:
    spec = app.openapi()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    wrong = []
    for route in documented_routes(app):
        needs_token = any(d.call is current_principal for d in _walk(route.dependant))
        for method in route.methods - {"HEAD"}:
            declared = {"bearer": []} in operation(spec, route, method).get("security", [])
            if declared != needs_token:
                wrong.append(f"{method} {route.path}")
    assert wrong == []


def test_errors_are_declared_with_the_contract_shape(app: FastAPI) -> None:
    spec = app.openapi()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    undeclared = []
    for route in documented_routes(app):
        if not route.path.startswith("/v1/"):
            continue
        for method in route.methods - {"HEAD"}:
            responses = operation(spec, route, method)["responses"]
            for status in ("422", "429"):
                schema = responses.get(status, {}).get("content", {}).get("application/json", {})
                if schema.get("schema", {}).get("$ref") != "#/components/schemas/ErrorBody":
                    undeclared.append(f"{method} {route.path} {status}")
    assert undeclared == [], (
        "declare the errors on the router: responses=IN_ORG or SIGNED_IN (api/shapes.py)"
    )
