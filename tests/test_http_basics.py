"""The error shape of the contract for what no route handles itself."""

from __future__ import annotations

import httpx


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"].startswith("req_")


async def test_readyz_checks_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/v1/nothing-here"), 404, "not_found")


async def test_wrong_method_is_json_405(client: httpx.AsyncClient) -> None:
    assert_error(await client.delete("/healthz"), 405, "method_not_allowed")


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/healthz", content=b"x" * (5 * 1024 * 1024 + 1))
    assert_error(response, 413, "payload_too_large")


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "Minibase"
    assert "/healthz" in spec["paths"]
    # orgId is read from the path by require() rather than declared: still documented.
    for path, operations in spec["paths"].items():
        if "{orgId}" in path:
            for operation in operations.values():
                names = [p["name"] for p in operation["parameters"]]
                assert names.count("orgId") == 1, (path, names)
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_request_id_is_echoed_when_sane(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    response = await client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert response.headers["x-request-id"].startswith("req_")
