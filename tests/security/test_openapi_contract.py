"""Issue 12, item 9: the OpenAPI document is the contract a client can trust (both
databases): every error status with the error schema, the bearer scheme, typed bodies
(``PATCH`` ops one by one), and ``/docs`` served from the package alone.

``tests/test_openapi.py`` holds the document equal to the routes; the bounded
schemathesis run is ``tests/test_openapi_fuzz.py``; the page in a real browser is
``tests/browser/test_api_docs.py``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI

from minibase.domain.flow_ops import OPS

ERROR_REF = "#/components/schemas/ErrorBody"
PUBLIC = {"/v1/auth/signup", "/v1/auth/login", "/v1/auth/verify-email"}
# Bodies that are any JSON by design (a webhook's trigger payload), described as such.
FREE_FORM = {("POST", "/v1/hooks/{webhookId}")}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


def test_every_error_status_has_the_error_schema(app: FastAPI) -> None:
    spec = app.openapi()
    wrong, missing = [], []
    for method, path, op in _operations(spec):
        for status, response in op["responses"].items():
            if status[0] in "45":
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema != {"$ref": ERROR_REF}:
                    wrong.append(f"{method} {path} {status}")
        if path.startswith("/v1/"):
            needed = {"422", "429", "500"} | ({"401"} if path not in PUBLIC else set())
            if "requestBody" in op:
                needed |= {"400", "413"}
            lacking = needed - set(op["responses"])
            if lacking:
                missing.append(f"{method} {path} {sorted(lacking)}")
    assert wrong == [], "use shapes.errors()/shapes.error() in responses="
    assert missing == []


def test_bodies_are_typed_and_patch_ops_one_by_one(app: FastAPI) -> None:
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    untyped = []
    for method, path, op in _operations(spec):
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        schema = content["application/json"]["schema"]
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        if (method, path) in FREE_FORM:
            assert schema.get("description"), (method, path)
        elif schema.get("type") != "object" or not schema.get("properties"):
            untyped.append(f"{method} {path}")
    assert untyped == []
    patch = spec["paths"]["/v1/orgs/{orgId}/flows/{flowId}"]["patch"]
    items = patch["requestBody"]["content"]["application/json"]["schema"]["properties"]["ops"]
    kinds = [o["properties"]["op"]["enum"] for o in items["items"]["oneOf"]]
    assert kinds == [[kind] for kind in OPS]
    assert (
        spec["components"]["securitySchemes"]["bearer"]
        == {
            "type": "http",
            "scheme": "bearer",
        }
        or spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    )


async def test_docs_come_from_the_package(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "//" not in re.sub(r"<!doctype[^>]*>", "", page.text, flags=re.I)
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(refs) >= 4 and all(r.startswith("/static/") for r in refs), refs
    for ref in refs:
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        assert b"cdn.jsdelivr" not in asset.content and b"unpkg.com" not in asset.content
    policy = page.headers["content-security-policy"]
    assert (
        "http" not in policy
        and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    )
    redoc = await client.get("/redoc")
    assert redoc.status_code == 404 and redoc.json()["error"]["code"] == "not_found"
