"""A real uvicorn server in the test's event loop, serving the collab endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi import FastAPI

from minibase.app import create_app
from minibase.collab.options import CollabOptions
from minibase.collab.rooms import RoomManager
from minibase.config import Settings
from minibase.store.unit_of_work import Store
from tests.collab.fakes import MemoryAuthorizer, MemoryBridge
from tests.process import free_port


@dataclass
class CollabServer:
    app: FastAPI
    port: int
    bridge: MemoryBridge
    authorizer: MemoryAuthorizer

    @property
    def store(self) -> Store:
        return self.app.state.ctx.store  # type: ignore[no-any-return]

    @property
    def manager(self) -> RoomManager:
        manager = self.app.state.ctx.collab
        assert manager is not None
        return manager  # type: ignore[no-any-return]

    def url(self, org_id: str, flow_id: str, token: str) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/collab/{org_id}/{flow_id}?token={token}"


async def start_server(
    settings: Settings, options: CollabOptions | None = None
) -> tuple[uvicorn.Server, asyncio.Task[None], CollabServer]:
    bridge = MemoryBridge()
    authorizer = MemoryAuthorizer(bridge)
    app = create_app(
        settings,
        run_migrations=False,
        collab_authorizer=lambda ctx: authorizer,
        flow_bridge=lambda ctx: bridge,
        collab_options=options or CollabOptions(unload_delay=0.05, materialize_delay=0.05),
    )
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return server, task, CollabServer(app, port, bridge, authorizer)


@pytest.fixture
async def collab(settings: Settings) -> AsyncIterator[CollabServer]:
    server, task, handle = await start_server(settings)
    try:
        yield handle
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
