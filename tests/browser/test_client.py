"""The browser client's own tests, run in Chromium against a real server.

The page imports ``/client/minibase.js`` as a stock ES module, as a team's page would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Pages, off_loop, start_server
from tests.browser.helpers import PASSWORD, unique_email
from tests.process import ServerProcess
from tests.services import PostgresTemplate


def until(check: Callable[[], bool], within: float = 15.0) -> None:
    """Wait for ``check()`` (the server groups collaborative edits before it stores them)."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not reached in {within} s: {check.__name__}"
        time.sleep(0.05)


@dataclass
class Account:
    token: str
    org_id: str
    flow_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def account(base_url: str, nodes: list[dict[str, Any]] | None = None) -> Account:
    with httpx.Client(base_url=base_url) as http:
        r = http.post("/v1/auth/signup", json={"email": unique_email("js"), "password": PASSWORD})
        token = r.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        org = http.post("/v1/orgs", json={"name": "Client tests"}, headers=auth).json()
        flow = http.post(
            f"/v1/orgs/{org['id']}/flows",
            json={"name": "F", "nodes": nodes or [], "edges": []},
            headers=auth,
        ).json()
    return Account(token, org["id"], flow["id"])


def client_page(pages: Pages, who: Account) -> Page:
    """A page of the server's origin with ``window.mb`` (the module) and ``window.client``."""
    page = pages.new()
    page.goto("/examples/editor")
    page.evaluate(
        """async (token) => {
            window.mb = await import('/client/minibase.js');
            window.client = window.mb.createClient({url: location.origin, token});
        }""",
        who.token,
    )
    return page


def node(node_id: str, x: float = 0, y: float = 0) -> dict[str, Any]:
    position = {"x": x, "y": y}
    return {"id": node_id, "type": "default", "position": position, "data": {"label": node_id}}


@pytest.fixture(params=["sqlite", "postgres"])
def restartable(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[list[ServerProcess], Path]]:
    """A server that the test may stop and start again (same port, same database)."""
    data_dir = tmp_path / "data"
    proc, pg_name = start_server(str(request.param), data_dir, request, {})
    procs = [proc]
    try:
        yield procs, data_dir
    finally:
        procs[-1].stop()
        if pg_name:
            off_loop(lambda: PostgresTemplate.drop(pg_name))


def test_live_query_reconnects_across_a_server_restart(
    browser: Any, restartable: tuple[list[ServerProcess], Path]
) -> None:
    procs, data_dir = restartable
    server = procs[0]
    pages = Pages(browser, server.base_url)
    try:
        who = account(server.base_url)
        page = client_page(pages, who)
        page.evaluate(
            """(orgId) => {
                window.counts = [];
                window.statuses = [];
                window.liveClient = window.mb.createClient({
                    url: location.origin, token: window.client.token,
                    onLiveStatus: (s) => window.statuses.push(s),
                });
                window.liveClient.subscribe('flows.list', {orgId},
                    (value) => window.counts.push(value.items.length));
            }""",
            who.org_id,
        )
        page.wait_for_function("() => window.counts.at(-1) === 1")
        # A flow store live on the flow too (its socket opens with single-use tickets).
        page.evaluate(
            """({orgId, flowId}) => {
                window.store = window.mb.createFlowStore(window.liveClient, {orgId});
                window.store.getState().subscribeToUpdates(flowId);
            }""",
            {"orgId": who.org_id, "flowId": who.flow_id},
        )
        page.wait_for_function("() => window.store.getState().connection === 'connected'")

        server.stop()
        page.wait_for_function("() => window.statuses.at(-1) === 'connecting'")
        restarted = ServerProcess(data_dir, env=server.env, port=server.port)
        procs.append(restarted)
        restarted.wait_ready()
        # A change made after the restart reaches the page: it reconnected and
        # subscribed again by itself, and holds the latest value.
        with httpx.Client(base_url=server.base_url) as http:
            r = http.post(
                f"/v1/orgs/{who.org_id}/flows", json={"name": "after"}, headers=who.headers
            )
            assert r.status_code == 201
        page.wait_for_function("() => window.counts.at(-1) === 2")
        assert page.evaluate("window.statuses.at(-1)") == "open"
        # The collaborative document reconnected too, with a new ticket, and edits again.
        page.wait_for_function("() => window.store.getState().connection === 'connected'")
        page.evaluate(
            """() => window.store.getState().addNode(
                {id: 'late', type: 'default', position: {x: 1, y: 1}, data: {}})"""
        )
        with httpx.Client(base_url=server.base_url, headers=who.headers) as http:
            url = f"/v1/orgs/{who.org_id}/flows/{who.flow_id}"
            until(lambda: [n["id"] for n in http.get(url).json()["nodes"]] == ["late"])
    finally:
        pages.close()


def test_flow_store_round_trip(pages: Pages, server: ServerProcess) -> None:
    who = account(server.base_url, [node("a")])
    page = client_page(pages, who)
    page.evaluate(
        """async ({orgId, flowId}) => {
            const store = window.mb.createFlowStore(window.client, {orgId, user: {name: 'T'}});
            window.store = store;
            await store.getState().loadFromServer(flowId);
            window.stop = store.getState().subscribeToUpdates(flowId);
        }""",
        {"orgId": who.org_id, "flowId": who.flow_id},
    )
    page.wait_for_function("() => window.store.getState().connection === 'connected'")
    assert page.evaluate("window.store.getState().nodes.map(n => n.id)") == ["a"]

    # The store writes to the Yjs document; the server materializes it.
    page.evaluate(
        """() => {
            const s = window.store.getState();
            s.addNode({id: 'b', type: 'default', position: {x: 5, y: 5}, data: {label: 'b'}});
            s.onConnect({source: 'a', target: 'b', sourceHandle: null, targetHandle: null});
            s.updateNodeData('a', {label: 'A!'});
        }"""
    )
    url = f"/v1/orgs/{who.org_id}/flows/{who.flow_id}"
    with httpx.Client(base_url=server.base_url, headers=who.headers) as http:

        def materialized() -> bool:
            flow = http.get(url).json()
            return len(flow["edges"]) == 1 and flow["nodes"][0]["data"] == {"label": "A!"}

        until(materialized)
        flow = http.get(url).json()
        assert {n["id"] for n in flow["nodes"]} == {"a", "b"}
        assert flow["nodes"][0]["data"] == {"label": "A!"}
        assert [(e["source"], e["target"]) for e in flow["edges"]] == [("a", "b")]

        # A REST change arrives in the store.
        r = http.patch(url, json={"ops": [{"op": "addNode", "node": node("c", 9, 9)}]})
        assert r.status_code == 200
        page.wait_for_function(
            "() => window.store.getState().nodes.some(n => n.id === 'c' && n.position.x === 9)"
        )
        # React Flow's remove change removes the node and its edges in one transaction.
        page.evaluate("window.store.getState().onNodesChange([{type: 'remove', id: 'b'}])")
        page.wait_for_function("() => window.store.getState().edges.length === 0")

        # syncToServer saves over REST with its baseVersion; the flow list follows live.
        saved = page.evaluate(
            """async () => {
                const s = window.store.getState();
                const flow = {...s.currentFlow, name: 'Renamed by the store'};
                return (await s.syncToServer(flow)).name;
            }"""
        )
        assert saved == "Renamed by the store"
        assert http.get(url).json()["name"] == "Renamed by the store"
        page.wait_for_function(
            "() => window.store.getState().flows.some(f => f.name === 'Renamed by the store')"
        )

        # importLocalFlows moves browser-kept flows into the org; a retry creates nothing twice.
        imported = page.evaluate(
            """async () => {
                const local = [{id: 'local-1', name: 'From the browser',
                                nodes: [{id: 'x', type: 'default', position: {x: 0, y: 0},
                                         data: {}, selected: true}], edges: []}];
                const s = window.store.getState();
                const first = await s.importLocalFlows(local);
                const again = await s.importLocalFlows(local);
                return [first[0].flow.id, again[0].flow.id, first[0].flow.nodes[0]];
            }"""
        )
        assert imported[0] == imported[1]
        assert imported[2] == {**node("x"), "data": {}}
        names = [f["name"] for f in http.get(f"/v1/orgs/{who.org_id}/flows").json()["items"]]
        assert names.count("From the browser") == 1
    page.evaluate("window.stop()")
    page.wait_for_function("() => window.store.getState().connection === 'offline'")


def test_view_only_changes_are_never_sent(pages: Pages, server: ServerProcess) -> None:
    who = account(server.base_url, [node("a"), node("b", 200, 0)])
    page = client_page(pages, who)
    page.evaluate(
        """async ({orgId, flowId}) => {
            window.store = window.mb.createFlowStore(window.client, {orgId});
            window.stop = window.store.getState().subscribeToUpdates(flowId);
            window.updates = 0;
        }""",
        {"orgId": who.org_id, "flowId": who.flow_id},
    )
    page.wait_for_function("() => window.store.getState().nodes.length === 2")
    # Select, drag (not yet dropped), resize: all local.
    page.evaluate(
        """() => {
            const s = window.store.getState();
            s.onNodesChange([{type: 'select', id: 'a', selected: true}]);
            s.onNodesChange(
                [{type: 'position', id: 'a', position: {x: 50, y: 50}, dragging: true}]);
            s.onNodesChange([{type: 'dimensions', id: 'b', dimensions: {width: 10, height: 10},
                              resizing: true}]);
            s.onEdgesChange([]);
        }"""
    )
    state = page.evaluate(
        "(() => { const s = window.store.getState();"
        " return [s.selectedNodeId, s.nodes[0].selected, s.nodes[0].position]; })()"
    )
    assert state == ["a", True, {"x": 50, "y": 50}]
    # A save of the canvas as it stands now (selection included) is accepted as no change.
    page.evaluate(
        """() => window.store.getState().onNodesChange(
            [{type: 'position', id: 'a', position: {x: 0, y: 0}, dragging: true}])"""
    )
    saved = page.evaluate(
        """async () => {
            const s = window.store.getState();
            const nodes = s.nodes.map(n => ({...n, selected: true, dragging: false}));
            return (await s.syncToServer({...s.currentFlow, nodes})).version;
        }"""
    )
    assert saved == 1
    with httpx.Client(base_url=server.base_url, headers=who.headers) as http:
        url = f"/v1/orgs/{who.org_id}/flows/{who.flow_id}"
        # Dropping the node (drag end) is a real change: one version.
        page.evaluate(
            """() => window.store.getState().onNodesChange(
                [{type: 'position', id: 'a', position: {x: 70, y: 80}, dragging: false}])"""
        )
        page.wait_for_function("() => window.store.getState().currentFlow?.version === 2")
        flow = http.get(url).json()
        assert flow["version"] == 2
        assert flow["nodes"][0] == {**node("a"), "position": {"x": 70, "y": 80}}
        versions = http.get(f"{url}/versions").json()["items"]
        assert [v["version"] for v in versions] == [2, 1]
    page.evaluate("window.stop()")
