"""Helpers for run tests through the API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.flows_helpers import Org

FINAL = {"succeeded", "failed", "canceled", "timed_out"}


async def start(org: Org, flow_id: str, expect: int = 202, **body: Any) -> dict[str, Any]:
    response = await org.client.post(
        f"{org.flows_url}/{flow_id}/runs", json=body, headers=org.admin.headers
    )
    assert response.status_code == expect, response.text
    return dict(response.json())


async def get(org: Org, run_id: str) -> dict[str, Any]:
    response = await org.client.get(f"/v1/orgs/{org.id}/runs/{run_id}", headers=org.admin.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def wait_for(
    org: Org, run_id: str, statuses: set[str] = FINAL, within: float = 20.0
) -> dict[str, Any]:
    """The run once its status is one of ``statuses`` (fails after ``within`` s)."""
    deadline = time.monotonic() + within
    while True:
        run = await get(org, run_id)
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, f"run still {run['status']}: {run}"
        await asyncio.sleep(0.02)


async def run_to_end(org: Org, flow_id: str, **body: Any) -> dict[str, Any]:
    run = await start(org, flow_id, **body)
    return await wait_for(org, run["id"])


def nodes_by_id(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["nodeId"]: node for node in run["nodes"]}


async def outputs(org: Org, flow_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await org.client.get(
        f"{org.flows_url}/{flow_id}/outputs", params=params, headers=org.admin.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])
