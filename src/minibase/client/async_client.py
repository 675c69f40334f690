"""``AsyncClient``: the SDK for asyncio (the same methods as ``Client``, awaited)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import httpx

from minibase.client import calls as c
from minibase.client.calls import Call
from minibase.client.core import (
    DEFAULT_URL,
    FINISHED,
    Retry,
    answer,
    items_of,
    network_error,
    next_cursor,
    prepare,
    retry_after,
    should_retry,
    with_cursor,
)
from minibase.client.errors import MinibaseClientError
from minibase.client.models import (
    Accepted,
    ApiKey,
    EventDelivery,
    EventWebhook,
    Flow,
    FlowSummary,
    FlowWebhook,
    Health,
    Invitation,
    Me,
    Member,
    NodeType,
    Org,
    OrgSettings,
    Output,
    Role,
    Run,
    Schedule,
    Session,
    SocketTicket,
    Usage,
    VersionSummary,
)

if TYPE_CHECKING:
    from minibase.client.collab import CollabFlow
    from minibase.client.live import LiveSocket, Subscription


class AsyncClient:
    """An asyncio client of one Minibase server; see :class:`~minibase.client.Client`.

    Lists are async iterators (``async for flow in client.list_flows(org_id)``).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retry: Retry | None = None,
        page_size: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retry = retry or Retry()
        self.page_size = page_size
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)
        self._live: LiveSocket | None = None

    # --- plumbing ----------------------------------------------------------------------

    async def send(self, call: Call[Any]) -> Any:
        """Send one call (retried as :class:`Retry` says); its JSON answer, or raise."""
        prepared = prepare(call, self.token)
        policy = self.retry
        network_failed = False
        for attempt in range(policy.attempts):
            last = attempt == policy.attempts - 1
            try:
                response = await self._http.request(
                    prepared.method,
                    prepared.url,
                    headers=prepared.headers,
                    content=prepared.content,
                    params=prepared.params or None,
                )
            except httpx.TransportError as error:
                if last:
                    raise network_error(call, error, policy.attempts) from error
                network_failed = True
                await asyncio.sleep(policy.delay(attempt))
                continue
            if not last and should_retry(response, policy, after_network_error=network_failed):
                await asyncio.sleep(policy.delay(attempt, retry_after(response, policy)))
                continue
            return answer(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def pages(self, call: Call[Any]) -> AsyncIterator[Any]:
        """Every item of a list, page after page."""
        cursor: str | None = None
        while True:
            page = await self.send(with_cursor(call, cursor, self.page_size))
            for item in items_of(page):
                yield item
            cursor = next_cursor(page)
            if cursor is None:
                return

    async def aclose(self) -> None:
        if self._live is not None:
            await self._live.close()
            self._live = None
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- live queries ------------------------------------------------------------------

    def subscribe(self, query: str, **args: Any) -> Subscription:
        """Subscribe to a live query: ``async for value in client.subscribe(...)``.

        ``await`` it to wait until the server confirmed with the first value. It
        reconnects and resubscribes by itself. All subscriptions of a client share one
        socket.
        """
        from minibase.client.live import LiveSocket

        if self._live is None:
            self._live = LiveSocket(self.base_url, self._ticket, self.retry)
        return self._live.subscribe(query, args)

    def collab(
        self,
        org_id: str,
        flow_id: str,
        *,
        presence: dict[str, Any] | None = None,
        timeout: float | None = 30.0,
    ) -> CollabFlow:
        """A flow's live Yjs document: ``async with client.collab(org_id, flow_id) as flow:``.

        Entering waits until the document holds the server's state; leaving waits until
        the server stored every local edit, then closes. ``presence`` is this client's
        initial awareness state (``{"user": {"name": ...}}``); entering raises
        ``TimeoutError`` when the server's state did not come within ``timeout`` seconds.
        See docs/sdk.md.
        """
        from minibase.client.collab import CollabFlow

        return CollabFlow(
            self.base_url, org_id, flow_id, self._ticket, self.retry, presence, timeout
        )

    async def _ticket(self) -> str:
        return (await self.socket_ticket())["ticket"]

    # --- health, auth ------------------------------------------------------------------

    async def health(self) -> Health:
        return cast(Health, await self.send(c.HEALTHZ.call()))

    async def ready(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self.send(c.READYZ.call()))

    async def signup(self, email: str, password: str, name: str | None = None) -> Session:
        """Create an account; the client then uses its session token."""
        session = cast(
            Session,
            await self.send(c.SIGNUP.call(json=c.body(email=email, password=password, name=name))),
        )
        self.token = session["token"]
        return session

    async def login(self, email: str, password: str) -> Session:
        """Sign in; the client then uses the new session token."""
        session = cast(
            Session, await self.send(c.LOGIN.call(json={"email": email, "password": password}))
        )
        self.token = session["token"]
        return session

    async def logout(self) -> None:
        """End the session at once; the client forgets its token."""
        await self.send(c.LOGOUT.call())
        self.token = None

    async def change_password(
        self, current_password: str, new_password: str, *, end_other_sessions: bool = True
    ) -> None:
        await self.send(
            c.CHANGE_PASSWORD.call(
                json={
                    "currentPassword": current_password,
                    "newPassword": new_password,
                    "endOtherSessions": end_other_sessions,
                }
            )
        )

    async def me(self) -> Me:
        return cast(Me, await self.send(c.ME.call()))

    async def socket_ticket(self) -> SocketTicket:
        """A single-use ticket (30 s) to open a socket without the token in its URL."""
        return cast(SocketTicket, await self.send(c.SOCKET_TICKET.call()))

    # --- organizations -----------------------------------------------------------------

    def list_orgs(self) -> AsyncIterator[Org]:
        return self.pages(c.ORGS.call())

    async def create_org(self, name: str, plan: str | None = None) -> Org:
        return cast(Org, await self.send(c.ORG_CREATE.call(json=c.body(name=name, plan=plan))))

    async def get_org(self, org_id: str) -> Org:
        return cast(Org, await self.send(c.ORG.call(org_id)))

    async def update_org(
        self, org_id: str, *, name: str | None = None, settings: OrgSettings | None = None
    ) -> Org:
        return cast(
            Org,
            await self.send(c.ORG_UPDATE.call(org_id, json=c.body(name=name, settings=settings))),
        )

    async def delete_org(self, org_id: str) -> None:
        await self.send(c.ORG_DELETE.call(org_id))

    async def usage(self, org_id: str) -> Usage:
        return cast(Usage, await self.send(c.USAGE.call(org_id)))

    # --- members, invitations, API keys ------------------------------------------------

    def list_members(self, org_id: str) -> AsyncIterator[Member]:
        return self.pages(c.MEMBERS.call(org_id))

    async def set_member_role(self, org_id: str, user_id: str, role: Role) -> Member:
        return cast(
            Member, await self.send(c.MEMBER_UPDATE.call(org_id, user_id, json={"role": role}))
        )

    async def remove_member(self, org_id: str, user_id: str) -> None:
        await self.send(c.MEMBER_REMOVE.call(org_id, user_id))

    async def invite(self, org_id: str, email: str, role: Role) -> Invitation:
        """Invite by email; the answer's ``token`` is shown only here."""
        return cast(
            Invitation,
            await self.send(c.INVITATION_CREATE.call(org_id, json={"email": email, "role": role})),
        )

    def list_invitations(self, org_id: str) -> AsyncIterator[Invitation]:
        return self.pages(c.INVITATIONS.call(org_id))

    async def revoke_invitation(self, org_id: str, invitation_id: str) -> None:
        await self.send(c.INVITATION_REVOKE.call(org_id, invitation_id))

    async def accept_invitation(self, token: str) -> Accepted:
        return cast(Accepted, await self.send(c.INVITATION_ACCEPT.call(json={"token": token})))

    async def create_api_key(self, org_id: str, name: str, role: Role) -> ApiKey:
        """A key bound to the org and role; the answer's ``key`` is shown only here."""
        return cast(
            ApiKey,
            await self.send(c.API_KEY_CREATE.call(org_id, json={"name": name, "role": role})),
        )

    def list_api_keys(self, org_id: str) -> AsyncIterator[ApiKey]:
        return self.pages(c.API_KEYS.call(org_id))

    async def revoke_api_key(self, org_id: str, key_id: str) -> None:
        await self.send(c.API_KEY_REVOKE.call(org_id, key_id))

    # --- flows -------------------------------------------------------------------------

    def list_flows(self, org_id: str, *, deleted: bool = False) -> AsyncIterator[FlowSummary]:
        """The org's flows (``deleted=True``: the trash)."""
        return self.pages(c.FLOWS.call(org_id, params=c.params(deleted=deleted or None)))

    async def create_flow(
        self,
        org_id: str,
        name: str,
        nodes: list[Any] | None = None,
        edges: list[Any] | None = None,
    ) -> Flow:
        return cast(
            Flow,
            await self.send(
                c.FLOW_CREATE.call(org_id, json=c.body(name=name, nodes=nodes, edges=edges))
            ),
        )

    async def get_flow(self, org_id: str, flow_id: str) -> Flow:
        return cast(Flow, await self.send(c.FLOW.call(org_id, flow_id)))

    async def load_flow(self, org_id: str, flow_id: str) -> Flow:
        """The flow as stored (the seed's ``loadFromServer``); see ``Client.load_flow``."""
        return await self.get_flow(org_id, flow_id)

    async def sync_flow(self, org_id: str, flow: Mapping[str, Any]) -> Flow:
        """Store a flow kept locally (the seed's ``syncToServer``); see ``Client.sync_flow``."""
        nodes, edges = c.stored_entities(flow.get("nodes")), c.stored_entities(flow.get("edges"))
        if not flow.get("id"):
            name = str(flow.get("name") or "Untitled flow")
            return await self.create_flow(org_id, name, nodes, edges)
        return await self.save_flow(
            org_id,
            str(flow["id"]),
            nodes=nodes,
            edges=edges,
            base_version=int(flow.get("version") or 1),
            name=flow.get("name"),
        )

    def subscribe_to_updates(self, org_id: str, flow_id: str) -> Subscription:
        """The flow, live (the seed's ``subscribeToUpdates``): a ``flows.get`` subscription."""
        return self.subscribe("flows.get", orgId=org_id, flowId=flow_id)

    async def save_flow(
        self,
        org_id: str,
        flow_id: str,
        *,
        nodes: list[Any],
        edges: list[Any],
        base_version: int,
        name: str | None = None,
    ) -> Flow:
        """Replace nodes and edges; a stale ``base_version`` is merged three ways."""
        payload = c.body(name=name, nodes=nodes, edges=edges, baseVersion=base_version)
        return cast(Flow, await self.send(c.FLOW_SAVE.call(org_id, flow_id, json=payload)))

    async def patch_flow(self, org_id: str, flow_id: str, ops: list[dict[str, Any]]) -> Flow:
        """Apply operations (``addNode``, ``updateNode``, ``removeNode``, ...) atomically."""
        return cast(Flow, await self.send(c.FLOW_PATCH.call(org_id, flow_id, json={"ops": ops})))

    async def delete_flow(self, org_id: str, flow_id: str) -> None:
        """Move the flow to the trash (``undelete_flow`` brings it back)."""
        await self.send(c.FLOW_DELETE.call(org_id, flow_id))

    async def undelete_flow(self, org_id: str, flow_id: str) -> Flow:
        return cast(Flow, await self.send(c.FLOW_UNDELETE.call(org_id, flow_id)))

    def list_versions(self, org_id: str, flow_id: str) -> AsyncIterator[VersionSummary]:
        """Version history, newest first."""
        return self.pages(c.VERSIONS.call(org_id, flow_id))

    async def get_version(self, org_id: str, flow_id: str, version: int) -> Flow:
        return cast(Flow, await self.send(c.VERSION.call(org_id, flow_id, version)))

    async def diff_versions(self, org_id: str, flow_id: str, a: int, b: int) -> dict[str, Any]:
        return cast(dict[str, Any], await self.send(c.VERSION_DIFF.call(org_id, flow_id, a, b)))

    async def restore_version(self, org_id: str, flow_id: str, version: int) -> Flow:
        """Make an old version the newest one (a new version equal to it)."""
        return cast(Flow, await self.send(c.VERSION_RESTORE.call(org_id, flow_id, version)))

    async def write_output(
        self, org_id: str, flow_id: str, node_id: str, output: Any, compute_time: float
    ) -> Output:
        payload = {"nodeId": node_id, "output": output, "computeTime": compute_time}
        return cast(Output, await self.send(c.OUTPUT_WRITE.call(org_id, flow_id, json=payload)))

    def list_outputs(
        self, org_id: str, flow_id: str, *, node_id: str | None = None, latest: bool = False
    ) -> AsyncIterator[Output]:
        """Outputs, newest first; ``latest=True`` keeps the newest per node."""
        query = c.params(nodeId=node_id, latest=latest or None)
        return self.pages(c.OUTPUTS.call(org_id, flow_id, params=query))

    # --- runs --------------------------------------------------------------------------

    def list_node_types(self, org_id: str | None = None) -> AsyncIterator[NodeType]:
        """Node types (``org_id``: only those that org may use)."""
        return self.pages(c.NODE_TYPES.call(params=c.params(orgId=org_id)))

    async def start_run(
        self,
        org_id: str,
        flow_id: str,
        *,
        inputs: dict[str, Any] | None = None,
        nodes: list[str] | None = None,
        version: int | None = None,
        force: bool | None = None,
    ) -> Run:
        payload = c.body(inputs=inputs, nodes=nodes, version=version, force=force)
        return cast(Run, await self.send(c.RUN_START.call(org_id, flow_id, json=payload)))

    def list_runs(
        self, org_id: str, *, flow_id: str | None = None, status: str | None = None
    ) -> AsyncIterator[Run]:
        """Runs, newest first."""
        return self.pages(c.RUNS.call(org_id, params=c.params(flowId=flow_id, status=status)))

    async def get_run(self, org_id: str, run_id: str) -> Run:
        return cast(Run, await self.send(c.RUN.call(org_id, run_id)))

    async def cancel_run(self, org_id: str, run_id: str) -> Run:
        return cast(Run, await self.send(c.RUN_CANCEL.call(org_id, run_id)))

    async def wait_for_run(
        self,
        org_id: str,
        run_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (the signature of Client.wait_for_run)
    ) -> Run:
        """The run once it finished, followed live (no polling); ``TimeoutError`` after
        ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            async with self.subscribe("runs.get", orgId=org_id, runId=run_id) as sub:
                async for value in sub:
                    run = cast(Run, value)
                    if run["status"] in FINISHED:
                        return run
        raise MinibaseClientError(f"the subscription to {run_id} ended")

    async def watch_run(
        self,
        org_id: str,
        run_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (the signature of Client.watch_run)
    ) -> AsyncIterator[Run]:
        """Each new state of a run, followed live, ending with the finished run
        (``async for run in client.watch_run(...)``); see ``Client.watch_run``."""
        async with asyncio.timeout(timeout):
            async with self.subscribe("runs.get", orgId=org_id, runId=run_id) as sub:
                async for value in sub:
                    run = cast(Run, value)
                    yield run
                    if run["status"] in FINISHED:
                        return

    def list_schedules(self, org_id: str, flow_id: str) -> AsyncIterator[Schedule]:
        return self.pages(c.SCHEDULES.call(org_id, flow_id))

    async def create_schedule(
        self,
        org_id: str,
        flow_id: str,
        cron: str,
        *,
        timezone: str | None = None,
        inputs: dict[str, Any] | None = None,
        enabled: bool | None = None,
    ) -> Schedule:
        """Run the flow at each fire time of ``cron`` (in ``timezone``, default UTC)."""
        payload = c.body(cron=cron, timezone=timezone, inputs=inputs, enabled=enabled)
        return cast(
            Schedule, await self.send(c.SCHEDULE_CREATE.call(org_id, flow_id, json=payload))
        )

    async def update_schedule(
        self,
        org_id: str,
        flow_id: str,
        schedule_id: str,
        *,
        cron: str | None = None,
        timezone: str | None = None,
        inputs: dict[str, Any] | None = None,
        enabled: bool | None = None,
    ) -> Schedule:
        payload = c.body(cron=cron, timezone=timezone, inputs=inputs, enabled=enabled)
        call = c.SCHEDULE_UPDATE.call(org_id, flow_id, schedule_id, json=payload)
        return cast(Schedule, await self.send(call))

    async def delete_schedule(self, org_id: str, flow_id: str, schedule_id: str) -> None:
        await self.send(c.SCHEDULE_DELETE.call(org_id, flow_id, schedule_id))

    def list_webhooks(self, org_id: str, flow_id: str) -> AsyncIterator[FlowWebhook]:
        """The flow's inbound webhooks (without secrets)."""
        return self.pages(c.WEBHOOKS.call(org_id, flow_id))

    async def create_webhook(
        self, org_id: str, flow_id: str, *, name: str | None = None
    ) -> FlowWebhook:
        """A new inbound webhook; its ``secret`` is in this answer only."""
        call = c.WEBHOOK_CREATE.call(org_id, flow_id, json=c.body(name=name))
        return cast(FlowWebhook, await self.send(call))

    async def rotate_webhook_secret(
        self, org_id: str, flow_id: str, webhook_id: str
    ) -> FlowWebhook:
        """A new ``secret`` (in this answer only); the old one stops verifying."""
        call = c.WEBHOOK_ROTATE.call(org_id, flow_id, webhook_id)
        return cast(FlowWebhook, await self.send(call))

    async def delete_webhook(self, org_id: str, flow_id: str, webhook_id: str) -> None:
        await self.send(c.WEBHOOK_DELETE.call(org_id, flow_id, webhook_id))

    def list_event_webhooks(self, org_id: str) -> AsyncIterator[EventWebhook]:
        """The org's event webhooks (without secrets; admin)."""
        return self.pages(c.EVENT_WEBHOOKS.call(org_id))

    async def create_event_webhook(self, org_id: str, url: str, events: list[str]) -> EventWebhook:
        """Send ``events`` (``run.succeeded``, ``flow.created`` ...) to ``url``, signed with
        the answer's ``secret`` (in this answer only)."""
        call = c.EVENT_WEBHOOK_CREATE.call(org_id, json={"url": url, "events": events})
        return cast(EventWebhook, await self.send(call))

    async def delete_event_webhook(self, org_id: str, webhook_id: str) -> None:
        await self.send(c.EVENT_WEBHOOK_DELETE.call(org_id, webhook_id))

    def list_event_deliveries(self, org_id: str, webhook_id: str) -> AsyncIterator[EventDelivery]:
        """The webhook's deliveries, newest first."""
        return self.pages(c.EVENT_DELIVERIES.call(org_id, webhook_id))
