"""``create_app(settings)``: the ASGI application, wired by its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from minibase import __version__
from minibase.api import health
from minibase.collab.endpoint import CollabEndpoint
from minibase.collab.interfaces import CollabAuthorizer, FlowBridge
from minibase.collab.persistence import CollabStore
from minibase.collab.room import CollabOptions
from minibase.collab.rooms import RoomManager
from minibase.collab.rules import Limits
from minibase.config import Settings
from minibase.context import AppContext
from minibase.http.errors import install_error_handlers
from minibase.http.middleware import RequestContextMiddleware
from minibase.realtime.bus import InProcessBus
from minibase.store.database import Database
from minibase.store.migrate import migrate
from minibase.store.unit_of_work import Store


def create_app(
    settings: Settings,
    *,
    run_migrations: bool = True,
    collab_authorizer: Callable[[AppContext], CollabAuthorizer] | None = None,
    flow_bridge: Callable[[AppContext], FlowBridge] | None = None,
    collab_options: CollabOptions | None = None,
) -> FastAPI:
    """Build the application for ``settings``.

    Nothing happens at import or build time: the database, the bus and background tasks
    start in the lifespan and stop with it. ``run_migrations=False`` serves a database
    that is already migrated (tests copy a migrated template).

    Collaborative editing (``WS /v1/collab/{orgId}/{flowId}``) is mounted when
    ``collab_authorizer`` is given; it and ``flow_bridge`` (required with it) are
    factories called in the lifespan with the :class:`AppContext`, whose ``collab`` then
    holds the :class:`RoomManager`.
    """
    if collab_authorizer is not None and flow_bridge is None:
        raise ValueError("collab_authorizer needs a flow_bridge")
    collab_endpoint = CollabEndpoint() if collab_authorizer is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            await migrate(settings)
        database = Database(settings)
        bus = InProcessBus()
        store = Store(database, publish=bus.publish)
        await bus.start()
        ctx = AppContext(settings=settings, database=database, store=store, bus=bus)
        app.state.ctx = ctx
        if collab_endpoint is not None and collab_authorizer is not None and flow_bridge:
            options = collab_options or CollabOptions()
            setting_limits = Limits(
                max_nodes=settings.max_flow_nodes,
                max_edges=settings.max_flow_edges,
                max_doc_bytes=settings.max_flow_bytes,
            )
            options = replace(options, flow_limits=setting_limits.tighten(options.flow_limits))
            ctx.collab = RoomManager(flow_bridge(ctx), CollabStore(store), options)
            ctx.collab.subscribe(bus)
            collab_endpoint.bind(ctx.collab, collab_authorizer(ctx))
        try:
            yield
        finally:
            if ctx.collab is not None:
                await ctx.collab.close()
            await bus.close()
            await database.close()

    app = FastAPI(
        title="Minibase",
        version=__version__,
        description=(
            "Self-hosted, multi-tenant, real-time backend for node-based workflow editors."
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", "X-Quota-Warning", "X-Request-Id", "Retry-After"],
        )
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    if collab_endpoint is not None:
        app.router.routes.append(collab_endpoint.route())
    return app
