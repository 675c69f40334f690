"""The example editor (`/examples/editor`): React Flow and `createFlowStore`, nothing else.

It loads a flow, and an edit made on its canvas reaches the server; a change made
elsewhere reaches its canvas.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Pages, screenshot
from tests.browser.test_client import account, node, until
from tests.browser.test_collaboration import drag, node_at
from tests.process import ServerProcess


def test_example_editor_loads_a_flow_and_edits_reach_the_server(
    pages: Pages, server: ServerProcess
) -> None:
    who = account(server.base_url, [node("a", 0, 0), node("b", 250, 150)])
    page = pages.new()
    assets: list[str] = []
    page.goto("/login")  # the dashboard's origin: the example reads its token
    page.evaluate("t => localStorage.setItem('minibase.token', t)", who.token)
    page.on("request", lambda req: assets.append(req.url.rsplit("/", 1)[-1]))
    page.goto(f"/examples/editor?org={who.org_id}&flow={who.flow_id}")
    expect(node_at(page, "a")).to_be_visible()
    expect(node_at(page, "b")).to_be_visible()
    assert "editor.js" in assets
    assert not any(a.startswith("dashboard.") for a in assets)  # none of the dashboard
    screenshot(page, "example-editor")

    url = f"/v1/orgs/{who.org_id}/flows/{who.flow_id}"
    with httpx.Client(base_url=server.base_url, headers=who.headers) as http:
        # Drag node a: when it is dropped, the server has it somewhere else.
        drag(page, "a", 120, 80)

        def moved() -> bool:
            nodes = {n["id"]: n for n in http.get(url).json()["nodes"]}
            return nodes["a"]["position"] != {"x": 0, "y": 0}

        until(moved)
        flow = http.get(url).json()
        assert flow["version"] >= 2
        assert all("selected" not in n and "dragging" not in n for n in flow["nodes"])

        # A change made over REST arrives on the canvas.
        r = http.patch(url, json={"ops": [{"op": "addNode", "node": node("c", 0, 300)}]})
        assert r.status_code == 200
        expect(node_at(page, "c")).to_be_visible()
