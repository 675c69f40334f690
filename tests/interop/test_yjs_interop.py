"""Stock yjs + y-websocket (Node) clients edit one flow through the Python server."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from minibase.config import Settings
from minibase.domain.roles import Role
from tests.collab.conftest import start_server
from tests.collab.fakes import create_flow, edge, node
from tests.services import skip_or_fail

HERE = Path(__file__).parent
FLOW = {"name": "Interop", "nodes": [node("a"), node("b", 100, 0)], "edges": [edge("e1", "a", "b")]}


def _by_id(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: e["id"])


@pytest.fixture(params=["2", "3"])
def y_websocket_major(request: pytest.FixtureRequest) -> str:
    node_bin = shutil.which("node")
    if node_bin is None or not (HERE / "node_modules" / "y-websocket").is_dir():
        skip_or_fail("node or tests/interop/node_modules missing (run npm ci in tests/interop)")
    return str(request.param)


async def test_three_stock_providers_converge(settings: Settings, y_websocket_major: str) -> None:
    server, task, collab = await start_server(settings)
    try:
        org, flow = await create_flow(collab.store, collab.bridge, FLOW)
        tokens = [f"tok{i}" for i in range(3)]
        for token in tokens:
            collab.authorizer.add(token, org)
        collab.authorizer.add("viewer", org, role=Role.VIEWER)
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(HERE / "collab_clients.mjs"),
            f"ws://127.0.0.1:{collab.port}/v1/collab/{org}",
            flow,
            ",".join(tokens),
            "viewer",
            y_websocket_major,
            cwd=HERE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        assert proc.returncode == 0, err.decode()
        result = json.loads(out)
        client_flow = result["flow"]
        # The clients' last edits may still be on their way to the server: wait for them.
        async with asyncio.timeout(10):
            while True:
                server_flow = await collab.manager.materialized(org, flow)
                if _by_id(server_flow["nodes"]) == client_flow["nodes"]:
                    break
                await asyncio.sleep(0.02)  # a poll of an exact condition, under a deadline
        assert server_flow["name"] == client_flow["name"] == "Edited together"
        assert _by_id(server_flow["nodes"]) == client_flow["nodes"]
        assert _by_id(server_flow["edges"]) == client_flow["edges"]
        assert len(server_flow["nodes"]) == 16
        a = next(n for n in server_flow["nodes"] if n["id"] == "a")
        assert a["position"] == {"x": 11, "y": 22} and a["data"] == {"label": "edited by 1"}
        assert {e["id"] for e in server_flow["edges"]} == {"c0"}
        assert result["viewerDenied"] == ["read-only"]
        assert result["notes"][0]["type"] == "rule_violation"
        assert result["notes"][0]["removed"] == [
            {"kind": "edge", "id": "bad", "reason": "missing_node"}
        ]
        assert result["awareness"] == [4, 4, 4]
        # The viewer received everything, and its own edit never left it.
        assert [n["id"] for n in result["viewer"]["nodes"] if n["id"] != "v"] == [
            n["id"] for n in client_flow["nodes"]
        ]
        # Materialized into the REST flow (debounced on_change): a materialization of an
        # earlier state may come first, so wait for the final one under a deadline.
        async with asyncio.timeout(10):
            while True:
                if _by_id(collab.bridge.flows[(org, flow)]["nodes"]) == client_flow["nodes"]:
                    break
                await asyncio.sleep(0.02)  # a poll of an exact condition, under a deadline
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


async def test_stock_providers_and_rest_see_one_flow(
    settings: Settings, y_websocket_major: str
) -> None:
    """The same run against the real app: real tokens, roles, and the REST flow."""
    import httpx

    from minibase.app import create_app
    from tests.flows_helpers import new_org
    from tests.helpers import signup
    from tests.servers import serve_in_process

    quick = settings.model_copy(update={"collab_version_seconds": 0.05})
    app = create_app(quick, run_migrations=False)
    async with app.router.lifespan_context(app), serve_in_process(app) as host:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            org = await new_org(api)
            flow = await org.create_flow(FLOW["name"], FLOW["nodes"], FLOW["edges"])
            viewer = await signup(api)
            invite = await api.post(
                f"/v1/orgs/{org.id}/invitations",
                headers=org.admin.headers,
                json={"email": viewer.email, "role": "viewer"},
            )
            await api.post(
                "/v1/invitations/accept",
                headers=viewer.headers,
                json={"token": invite.json()["token"]},
            )
            proc = await asyncio.create_subprocess_exec(
                "node",
                str(HERE / "collab_clients.mjs"),
                f"ws://{host}/v1/collab/{org.id}",
                flow["id"],
                ",".join([org.admin.token] * 3),
                viewer.token,
                y_websocket_major,
                cwd=HERE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(proc.communicate(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise
            assert proc.returncode == 0, err.decode()
            client_flow = json.loads(out)["flow"]
            url = f"{org.flows_url}/{flow['id']}"
            rest: dict[str, Any] = {}
            for _ in range(200):
                rest = (await api.get(url, headers=org.admin.headers)).json()
                if (
                    rest["name"] == "Edited together"
                    and _by_id(rest["nodes"]) == client_flow["nodes"]
                ):
                    break
                await asyncio.sleep(0.05)
            assert _by_id(rest["nodes"]) == client_flow["nodes"]
            assert _by_id(rest["edges"]) == client_flow["edges"]
            assert rest["name"] == "Edited together"
