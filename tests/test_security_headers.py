"""Every response carries the security headers; HTML pages get their own policy."""

from __future__ import annotations

import httpx

from minibase.http.security_headers import API_CSP, HTML_CSP


def _assert_common(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers  # plain HTTP: no HSTS


async def test_json_answers_and_errors_carry_the_headers(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/healthz"),
        await client.get("/v1/me"),  # 401
        await client.get("/v1/no-such-route"),  # 404
        await client.post("/v1/auth/login", content=b"{not json"),  # 400/422
    ):
        _assert_common(response)
        assert response.headers["content-security-policy"] == API_CSP
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_html_pages_get_the_page_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    _assert_common(response)
    assert response.headers["content-security-policy"] == HTML_CSP


async def test_body_too_large_is_refused_with_the_headers(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/auth/login", content=b"x", headers={"content-length": str(10**9)}
    )
    assert response.status_code == 413
    _assert_common(response)
