"""``create_app(settings)``: the ASGI application, wired by its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from minibase import __version__
from minibase.api import (
    api_keys,
    audit,
    auth,
    flows,
    health,
    invitations,
    members,
    orgs,
    sync,
    usage,
)
from minibase.api.deps import document_org_id
from minibase.collab.endpoint import CollabEndpoint
from minibase.collab.interfaces import CollabAuthorizer, FlowBridge
from minibase.collab.persistence import CollabStore
from minibase.collab.room import CollabOptions
from minibase.collab.rooms import RoomManager
from minibase.collab.rules import Limits
from minibase.config import Settings
from minibase.context import AppContext
from minibase.http.errors import install_error_handlers
from minibase.http.idempotency import IdempotencyMiddleware
from minibase.http.middleware import RequestContextMiddleware
from minibase.http.throttle import ThrottleMiddleware
from minibase.realtime import build_bus
from minibase.realtime.hub import LiveQueryHub
from minibase.services.collab_bridge import (
    CollabAccessWatcher,
    FlowsBridge,
    FlowsCollabAuthorizer,
)
from minibase.services.flow_saves import FlowSaves
from minibase.services.invitation_delivery import sender_from_settings
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

    Collaborative editing (``WS /v1/collab/{orgId}/{flowId}``) authorizes with the
    real sessions, API keys and roles and materializes into the flows service; tests may
    pass other ``collab_authorizer`` / ``flow_bridge`` factories (called in the lifespan
    with the :class:`AppContext`, whose ``collab`` holds the :class:`RoomManager`).
    """
    make_authorizer = collab_authorizer or FlowsCollabAuthorizer
    make_bridge = flow_bridge or FlowsBridge
    collab_endpoint = CollabEndpoint()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            await migrate(settings)
        database = Database(settings)
        bus = build_bus(settings)
        store = Store(database, publish=bus.publish)
        bus.subscribe(store.cache.on_event)
        await bus.start()
        hub = LiveQueryHub(store, settings, bus)
        await hub.start()
        ctx = AppContext(
            settings=settings,
            database=database,
            store=store,
            bus=bus,
            hub=hub,
            invitation_sender=sender_from_settings(settings),
            saves=FlowSaves(store, settings),
        )
        app.state.ctx = ctx
        options = collab_options or CollabOptions(
            materialize_delay=settings.collab_version_seconds,
            unload_delay=settings.collab_unload_seconds,
        )
        setting_limits = Limits(
            max_nodes=settings.max_flow_nodes,
            max_edges=settings.max_flow_edges,
            max_doc_bytes=settings.max_flow_bytes,
        )
        options = replace(options, flow_limits=setting_limits.tighten(options.flow_limits))
        ctx.collab = RoomManager(make_bridge(ctx), CollabStore(store), options)
        ctx.collab.subscribe(bus)
        bus.subscribe(CollabAccessWatcher(ctx).on_event)
        collab_endpoint.bind(ctx.collab, make_authorizer(ctx))
        checkpoints = asyncio.create_task(database.checkpoint_loop(), name="wal-checkpoint")
        # Everything built so far (modules, routes, compiled schemas) lives as long as the
        # process: keep it out of the collector's full passes, which otherwise walk it
        # all and pause every request in flight for tens of milliseconds. Collect first,
        # so that no garbage is frozen with it.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checkpoints
            await ctx.collab.close()
            await hub.close()
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
    # Innermost first: idempotency wraps the routes, the token limit wraps idempotency.
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(ThrottleMiddleware, per_second=settings.rate_limit_per_second)
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
    # Flows first: the hottest routes are matched with the fewest comparisons.
    app.include_router(flows.router)
    app.include_router(auth.router)
    app.include_router(orgs.router)
    app.include_router(members.router)
    app.include_router(invitations.router)
    app.include_router(api_keys.router)
    app.include_router(usage.router)
    app.include_router(audit.router)
    app.include_router(sync.router)
    app.router.routes.append(collab_endpoint.route())
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_org_id(default_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
