"""The HTTP request node: mapping, size cap, timeouts and the SSRF guard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.responses import JSONResponse, RedirectResponse, Response

from minibase.engine.builtins import BUILTINS
from minibase.engine.executor import NodeResult, RunSpec, execute
from minibase.engine.net import is_public
from minibase.engine.plan import build_plan
from minibase.engine.registry import NodeRegistry
from tests.engine.helpers import MemoryRecorder, n
from tests.servers import serve_in_process


def target_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items")
    async def items() -> Response:
        return JSONResponse({"items": [{"name": "first"}, {"name": "second"}], "total": 2})

    @app.get("/big")
    async def big() -> Response:
        return Response(b"x" * 50_000, media_type="text/plain")

    @app.post("/echo")
    async def echo(body: dict[str, Any]) -> Response:
        return JSONResponse({"got": body})

    @app.get("/to-metadata")
    async def to_metadata() -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/")

    return app


@pytest.fixture
async def target() -> AsyncIterator[str]:
    async with serve_in_process(target_app()) as address:
        yield f"http://{address}"


async def run_http(allow_private: bool, **config: Any) -> NodeResult:
    plan = build_plan([n("h", "http_request", **config)], [], NodeRegistry(BUILTINS))
    spec = RunSpec(
        run_id="r",
        flow_id="f",
        organization_id="o",
        inputs={},
        allow_private_addresses=allow_private,
    )
    return (await execute(plan, spec, MemoryRecorder()))["h"]


async def test_get_json_with_mapping(target: str) -> None:
    result = await run_http(
        True, url=f"{target}/items", mapping={"first": "$.items[0].name", "n": "$.total"}
    )
    assert result.status == "succeeded", result.error
    assert result.outputs is not None
    assert result.outputs["body"] == {"first": "first", "n": 2}
    assert result.outputs["response"]["status"] == 200


async def test_post_json_body(target: str) -> None:
    result = await run_http(True, url=f"{target}/echo", method="POST", body={"a": 1})
    assert result.outputs is not None and result.outputs["body"] == {"got": {"a": 1}}


async def test_size_cap(target: str) -> None:
    result = await run_http(True, url=f"{target}/big", maxBytes=1000)
    assert result.status == "failed"
    assert result.error is not None and result.error["code"] == "response_too_large"


async def test_private_addresses_are_refused_by_default(target: str) -> None:
    result = await run_http(False, url=f"{target}/items")
    assert result.status == "failed"
    assert result.error is not None and result.error["code"] == "blocked_address"
    assert "127.0.0.1" in result.error["message"]
    localhost = await run_http(False, url=f"http://localhost:{target.rsplit(':', 1)[1]}/items")
    assert localhost.error is not None and localhost.error["code"] == "blocked_address"


async def test_redirects_are_checked_again(target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import minibase.engine.net as net

    real = net.resolve_checked
    calls: list[str] = []

    async def resolve(url: str, *, allow_private: bool) -> str:
        calls.append(url)
        # The loopback target itself is let through; the redirect target is checked.
        return await real(url, allow_private=allow_private or "127.0.0.1" in url)

    monkeypatch.setattr(net, "resolve_checked", resolve)
    result = await run_http(False, url=f"{target}/to-metadata")
    assert result.error is not None and result.error["code"] == "blocked_address"
    assert calls[-1].startswith("http://169.254.169.254")


async def test_unreachable_and_timeouts() -> None:
    result = await run_http(True, url="http://127.0.0.1:9/nothing", timeoutSeconds=2)
    assert result.status == "failed"
    assert result.error is not None and result.error["code"] in {"http_error", "timeout"}


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
    ],
)
def test_address_classes(address: str, public: bool) -> None:
    assert is_public(address) is public
