"""``create_app(settings)``: the ASGI application, wired by its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from minibase import __version__
from minibase.api import (
    admin,
    admin_backups,
    api_keys,
    audit,
    auth,
    comments,
    dashboards,
    event_webhooks,
    flow_exports,
    flows,
    followers,
    health,
    insight,
    invitations,
    members,
    metrics,
    node_types,
    notifications,
    org_archives,
    orgs,
    personal_data,
    runs,
    schedules,
    socket_tickets,
    sync,
    tasks,
    templates,
    usage,
    web,
    webhooks,
)
from minibase.collab.access_watcher import CollabAccessWatcher
from minibase.collab.endpoint import CollabEndpoint
from minibase.collab.options import CollabOptions
from minibase.collab.rooms import RoomManager
from minibase.config import Settings
from minibase.context import AppContext
from minibase.domain.collab import CollabAuthorizer, FlowBridge, Limits
from minibase.domain.pricing import parse_prices
from minibase.errors import StartupError
from minibase.http.errors import install_error_handlers
from minibase.http.idempotency import IdempotencyMiddleware
from minibase.http.input_guard import InputGuardMiddleware
from minibase.http.metrics import Metrics, MetricsMiddleware
from minibase.http.middleware import RequestContextMiddleware
from minibase.http.security_headers import SecurityHeaders
from minibase.http.server_limits import LimitedHttpProtocol, limited_protocol
from minibase.http.throttle import ThrottleMiddleware
from minibase.log_redaction import install_redaction
from minibase.logs import install_request_ids
from minibase.realtime import build_bus
from minibase.realtime.hub import LiveQueryHub
from minibase.realtime.probe import BusProbe
from minibase.services import retention
from minibase.services.backup_schedule import BackupScheduler
from minibase.services.collab_bridge import FlowsBridge, FlowsCollabAuthorizer
from minibase.services.engine_host import EngineHost
from minibase.services.flow_saves import FlowSaves
from minibase.services.invitation_delivery import sender_from_settings
from minibase.services.notification_mail import NotificationMailer
from minibase.services.quota_alerts import QuotaAlerts
from minibase.sockets.direct_frames import DirectFramesMiddleware
from minibase.store.collab_log import CollabStore
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
    make_authorizer = collab_authorizer or (
        lambda ctx: FlowsCollabAuthorizer(ctx.store, ctx.settings)
    )
    make_bridge = flow_bridge or (lambda ctx: FlowsBridge(ctx.store, ctx.settings))
    collab_endpoint = CollabEndpoint()
    try:
        parse_prices(settings.prices)
    except ValueError as exc:
        raise StartupError(str(exc)) from None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_redaction()
        install_request_ids()
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
            awareness_max_clients=settings.collab_awareness_max_clients,
            awareness_max_state_bytes=settings.collab_awareness_max_state_bytes,
            awareness_per_second=settings.collab_awareness_per_second,
            rebase_over_bytes=(
                settings.collab_rebase_over_bytes
                if settings.collab_rebase_over_bytes and not settings.redis_url
                else None
            ),
            rebase_idle=settings.collab_rebase_idle_seconds,
        )
        setting_limits = Limits(
            max_nodes=settings.max_flow_nodes,
            max_edges=settings.max_flow_edges,
            max_doc_bytes=settings.max_flow_bytes,
        )
        options = replace(options, flow_limits=setting_limits.tighten(options.flow_limits))
        rooms = RoomManager(make_bridge(ctx), CollabStore(store), options)
        ctx.collab = rooms
        rooms.subscribe(bus)
        bus.subscribe(CollabAccessWatcher(rooms, store).on_event)
        collab_endpoint.bind(rooms, make_authorizer(ctx))
        ctx.engine = EngineHost(store, settings, bus, execute_runs=settings.runs_in_server)
        await ctx.engine.start()
        mailer = NotificationMailer(store, settings, ctx.invitation_sender)
        bus.subscribe(mailer.on_event)
        mailer.start()
        quota_alerts = QuotaAlerts(store)
        bus.subscribe(quota_alerts.on_event)
        quota_alerts.start()
        app.state.quota_alerts = quota_alerts
        app.state.bus_probe = BusProbe(bus)
        checkpoints = asyncio.create_task(database.checkpoint_loop(), name="wal-checkpoint")
        background = [checkpoints]
        if settings.retention_interval_seconds:
            background.append(
                asyncio.create_task(
                    retention.run_forever(store, settings.retention_interval_seconds),
                    name="retention",
                )
            )
        if settings.backup_schedule:
            scheduler = BackupScheduler(settings)
            background.append(asyncio.create_task(scheduler.run_forever(), name="backups"))
        # Everything built so far (modules, routes, compiled schemas) lives as long as the
        # process: keep it out of the collector's full passes, which otherwise walk it
        # all and pause every request in flight for tens of milliseconds. Collect first,
        # so that no garbage is frozen with it.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await quota_alerts.close()
            await mailer.close()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await ctx.engine.close()
            await rooms.close()
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
        # A trailing slash is a 404 in the error shape, never a redirect to whatever
        # host the request named.
        redirect_slashes=False,
        # /docs is served from the package (api/web.py), never from a CDN; no /redoc.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    # Innermost first: idempotency wraps the routes, the token limit wraps idempotency.
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(ThrottleMiddleware, per_second=settings.rate_limit_per_second)
    app.add_middleware(
        InputGuardMiddleware,
        max_body_bytes=settings.max_body_bytes,
        streamed={org_archives.IMPORT_PATH: settings.max_import_bytes},
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", "X-Quota-Warning", "X-Request-Id", "Retry-After"],
        )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        security_headers=SecurityHeaders(hsts=settings.tls_enabled),
        body_limits={org_archives.IMPORT_PATH: settings.max_import_bytes},
    )
    # Outermost: every answer is counted, those of the middlewares above included.
    app.state.metrics = Metrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    # Outside even that: it needs the server's own ``send`` of a socket, unwrapped.
    app.add_middleware(DirectFramesMiddleware)
    app.include_router(health.router)
    app.include_router(metrics.router)
    # Flows first: the hottest routes are matched with the fewest comparisons.
    app.include_router(flows.router)
    app.include_router(auth.router)
    app.include_router(personal_data.router)
    app.include_router(flow_exports.router)
    app.include_router(org_archives.router)  # before orgs: /v1/orgs/import is no org id
    app.include_router(orgs.router)
    app.include_router(members.router)
    app.include_router(invitations.router)
    app.include_router(api_keys.router)
    app.include_router(usage.router)
    app.include_router(audit.router)
    app.include_router(socket_tickets.router)
    app.include_router(sync.router)
    app.include_router(comments.router)
    app.include_router(notifications.router)
    app.include_router(tasks.router)
    app.include_router(templates.router)
    app.include_router(insight.router)
    app.include_router(insight.admin_router)
    app.include_router(dashboards.router)
    app.include_router(followers.router)
    app.include_router(admin.router)
    app.include_router(admin_backups.router)
    app.include_router(web.router)
    app.include_router(runs.router)
    app.include_router(schedules.router)
    app.include_router(webhooks.router)
    app.include_router(webhooks.hooks_router)
    app.include_router(event_webhooks.router)
    app.include_router(node_types.router)
    app.router.routes.append(collab_endpoint.route())
    return app


async def run_worker(settings: Settings) -> None:
    """Execute flow runs until SIGINT or SIGTERM (``minibase worker``)."""
    import signal

    database = Database(settings)
    bus = build_bus(settings)
    store = Store(database, publish=bus.publish)
    await bus.start()
    engine = EngineHost(store, settings, bus, execute_runs=True, watch_changes=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await engine.start()
    assert engine.worker is not None
    print(f"minibase: worker {engine.worker.worker_id} is running", flush=True)
    try:
        await stop.wait()
    finally:
        await engine.close()
        await bus.close()
        await database.close()


def http_protocol(settings: Settings) -> type[LimitedHttpProtocol]:
    """uvicorn's HTTP protocol with the server limits of ``settings``
    (:mod:`minibase.http.server_limits`), for ``minibase serve``."""
    return limited_protocol(
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        max_connections=settings.max_connections,
    )
