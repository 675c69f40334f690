"""Live queries of runs: ``runs.get`` and ``runs.list`` push each change of a run."""

from __future__ import annotations

import httpx
import pytest

from minibase.config import Settings
from tests.engine.helpers import e, n
from tests.engine.runs_helpers import start
from tests.flows_helpers import new_org
from tests.test_sync import connect, recv, recv_for, subscribe


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"run_in_server": "always", "run_poll_seconds": 0.05})


async def test_runs_get_and_list_follow_a_run(client: httpx.AsyncClient, live_url: str) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[n("a", "constant", value=1), n("wait", "delay", seconds=0.3), n("out", "output")],
        edges=[e("a", "wait"), e("wait", "out")],
    )
    async with connect(live_url, org.admin.token) as ws:
        listed = await subscribe(ws, "l", "runs.list", orgId=org.id, flowId=flow["id"])
        assert listed["value"]["items"] == []
        run = await start(org, flow["id"])
        seen = await subscribe(ws, "g", "runs.get", orgId=org.id, runId=run["id"])
        statuses = [seen["value"]["status"]]
        listed_statuses: list[str] = []
        while statuses[-1] != "succeeded" or listed_statuses[-1:] != ["succeeded"]:
            frame = await recv(ws)  # both subscriptions' frames, in order
            assert frame["type"] == "result", frame
            if frame["id"] == "g":
                statuses.append(frame["value"]["status"])
                nodes = {node["nodeId"]: node["status"] for node in frame["value"]["nodes"]}
                if statuses[-1] == "succeeded":
                    assert set(nodes.values()) == {"succeeded"}
            elif frame["id"] == "l":
                items = frame["value"]["items"]
                assert [r["id"] for r in items] == [run["id"]]
                listed_statuses.append(items[0]["status"])
        assert statuses[0] in {"queued", "running"}
        assert "running" in statuses + listed_statuses
        await ws.send(
            '{"type": "subscribe", "id": "x", "query": "runs.get", '
            '"args": {"orgId": "' + org.id + '", "runId": "run_nope"}}'
        )
        error = await recv_for(ws, "x")
        assert error["type"] == "error" and error["error"]["code"] == "not_found"
