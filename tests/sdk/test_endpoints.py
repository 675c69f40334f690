"""Every SDK method against a real server, through the sync and the async client.

One scenario drives both clients (``call`` awaits what the async client returns), and a
recording transport proves that it reached every HTTP endpoint the SDK declares.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from inspect import isawaitable
from typing import Any

import httpx
import pytest

from minibase.client import (
    AsyncClient,
    Client,
    Conflict,
    Forbidden,
    NotFound,
    Unauthenticated,
    ValidationError,
)
from minibase.client.calls import ENDPOINTS
from tests.process import ServerProcess
from tests.sdk.conftest import AsyncRecordingTransport, Recorder, RecordingTransport

AnyClient = Client | AsyncClient


async def call(result: Any) -> Any:
    """The value of a client method's result: awaited (async) or as is (sync)."""
    return await result if isawaitable(result) else result


async def collect(items: Iterator[Any] | AsyncIterator[Any]) -> list[Any]:
    if isinstance(items, Iterator):
        return list(items)
    return [item async for item in items]


def make(kind: str, base_url: str, recorder: Recorder, **options: Any) -> AnyClient:
    if kind == "sync":
        return Client(base_url, transport=RecordingTransport(recorder), **options)
    return AsyncClient(base_url, transport=AsyncRecordingTransport(recorder), **options)


async def close(client: AnyClient) -> None:
    if isinstance(client, Client):
        client.close()
    else:
        await client.aclose()


def email(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}@example.com"


CHAIN = (
    [
        {"id": "a", "type": "constant", "position": {"x": 0, "y": 0}, "data": {"value": {"x": 4}}},
        {"id": "d", "type": "math", "position": {"x": 1, "y": 0}, "data": {"expression": "x * 2"}},
        {"id": "out", "type": "output", "position": {"x": 2, "y": 0}, "data": {}},
    ],
    [{"id": "a-d", "source": "a", "target": "d"}, {"id": "d-out", "source": "d", "target": "out"}],
)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_every_endpoint(server: ServerProcess, kind: str) -> None:
    recorder = Recorder()
    clients: list[AnyClient] = []

    def new_client(**options: Any) -> AnyClient:
        client = make(kind, server.base_url, recorder, **options)
        clients.append(client)
        return client

    try:
        await scenario(new_client)
    finally:
        for client in clients:
            await close(client)
    declared = {f"{e.method} {e.template}" for e in ENDPOINTS if e.method != "WS"}
    assert declared - recorder.endpoints == set()


async def scenario(new_client: Callable[..., AnyClient]) -> None:
    alice, bob = new_client(), new_client()
    assert await call(alice.health()) == {"status": "ok"}
    assert (await call(alice.ready()))["status"] == "ok"

    # --- auth ------------------------------------------------------------------------
    alice_email, bob_email = email("alice"), email("bob")
    session = await call(alice.signup(alice_email, "first password 1", "Alice"))
    assert session["user"]["email"] == alice_email and alice.token == session["token"]
    await call(bob.signup(bob_email, "bob password 12"))
    await call(alice.change_password("first password 1", "second password 2"))
    await call(alice.login(alice_email, "second password 2"))
    me = await call(alice.me())
    assert me["user"]["name"] == "Alice" and me["memberships"] == []
    ticket = await call(alice.socket_ticket())
    assert ticket["ticket"] and ticket["expiresAt"] > 0

    # --- orgs ------------------------------------------------------------------------
    org = await call(alice.create_org("Acme"))
    org_id = org["id"]
    assert org["billing"]["plan"] == "free"
    assert [o["id"] for o in await collect(alice.list_orgs())] == [org_id]
    assert (await call(alice.get_org(org_id)))["name"] == "Acme"
    updated = await call(alice.update_org(org_id, name="Acme Inc", settings={"maxFlows": 20}))
    assert updated["name"] == "Acme Inc" and updated["settings"]["maxFlows"] == 20
    usage = await call(alice.usage(org_id))
    assert usage["flows"] == {"used": 0, "limit": 20}

    # --- invitations, members --------------------------------------------------------
    invitation = await call(alice.invite(org_id, bob_email, "editor"))
    assert invitation["token"]
    pending = await collect(alice.list_invitations(org_id))
    assert [i["id"] for i in pending] == [invitation["id"]] and "token" not in pending[0]
    accepted = await call(bob.accept_invitation(invitation["token"]))
    assert accepted["role"] == "editor" and accepted["organization"]["id"] == org_id
    other = await call(alice.invite(org_id, email("carol"), "viewer"))
    await call(alice.revoke_invitation(org_id, other["id"]))
    assert await collect(alice.list_invitations(org_id)) == []
    members = {m["user"]["email"]: m for m in await collect(alice.list_members(org_id))}
    assert {e: m["role"] for e, m in members.items()} == {alice_email: "admin", bob_email: "editor"}
    bob_id = members[bob_email]["user"]["id"]
    assert (await call(alice.set_member_role(org_id, bob_id, "viewer")))["role"] == "viewer"
    with pytest.raises(Forbidden) as refused:
        await call(bob.create_flow(org_id, "not allowed"))
    assert refused.value.status == 403 and refused.value.code == "forbidden"

    # --- API keys --------------------------------------------------------------------
    created_key = await call(alice.create_api_key(org_id, "ci", "editor"))
    assert created_key["key"]
    listed_keys = await collect(alice.list_api_keys(org_id))
    assert [k["id"] for k in listed_keys] == [created_key["id"]] and "key" not in listed_keys[0]
    keyed = new_client(token=created_key["key"])
    assert (await call(keyed.create_flow(org_id, "made with a key")))["createdBy"]
    await call(alice.revoke_api_key(org_id, created_key["id"]))
    with pytest.raises(Unauthenticated):
        await call(keyed.get_org(org_id))

    # --- flows, history, outputs -----------------------------------------------------
    nodes, edges = CHAIN
    flow = await call(alice.create_flow(org_id, "Chain", nodes, edges))
    flow_id = flow["id"]
    assert flow["version"] == 1 and [n["id"] for n in flow["nodes"]] == ["a", "d", "out"]
    assert (await call(alice.get_flow(org_id, flow_id)))["name"] == "Chain"
    moved = [{**nodes[0], "position": {"x": 5, "y": 5}}, *nodes[1:]]
    saved = await call(alice.save_flow(org_id, flow_id, nodes=moved, edges=edges, base_version=1))
    assert saved["version"] == 2
    patched = await call(alice.patch_flow(org_id, flow_id, [{"op": "rename", "name": "Chain 2"}]))
    assert patched["version"] == 3 and patched["name"] == "Chain 2"
    versions = await collect(alice.list_versions(org_id, flow_id))
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert (await call(alice.get_version(org_id, flow_id, 1)))["name"] == "Chain"
    assert await call(alice.diff_versions(org_id, flow_id, 1, 2))
    restored = await call(alice.restore_version(org_id, flow_id, 1))
    assert restored["version"] == 4 and restored["name"] == "Chain"
    output = await call(alice.write_output(org_id, flow_id, "a", {"x": 1}, 12.5))
    assert output["nodeId"] == "a" and output["computeTime"] == 12.5
    await call(alice.write_output(org_id, flow_id, "a", {"x": 2}, 3))
    latest = await collect(alice.list_outputs(org_id, flow_id, node_id="a", latest=True))
    assert [o["output"] for o in latest] == [{"x": 2}]
    summaries = {f["id"]: f for f in await collect(alice.list_flows(org_id))}
    assert summaries[flow_id]["nodeCount"] == 3

    # --- runs ------------------------------------------------------------------------
    types = {t["type"] for t in await collect(alice.list_node_types(org_id))}
    assert {"constant", "math", "output"} <= types
    run = await call(alice.start_run(org_id, flow_id))
    assert run["id"].startswith("run_") and run["flowId"] == flow_id
    finished = await call(alice.wait_for_run(org_id, run["id"], timeout=30))
    assert finished["status"] == "succeeded", finished
    assert (await call(alice.get_run(org_id, run["id"])))["status"] == "succeeded"
    assert [r["id"] for r in await collect(alice.list_runs(org_id, flow_id=flow_id))] == [run["id"]]
    with pytest.raises(Conflict):
        await call(alice.cancel_run(org_id, run["id"]))
    second = await call(alice.start_run(org_id, flow_id, force=True))
    try:
        canceled = await call(alice.cancel_run(org_id, second["id"]))
        assert canceled["id"] == second["id"]
    except Conflict:
        pass  # it finished first: the call still reached the endpoint

    # --- schedules -------------------------------------------------------------------
    schedule = await call(alice.create_schedule(org_id, flow_id, "0 3 * * *", enabled=False))
    assert schedule["id"].startswith("sch_") and schedule["enabled"] is False
    listed = await collect(alice.list_schedules(org_id, flow_id))
    assert [s["id"] for s in listed] == [schedule["id"]]
    changed = await call(
        alice.update_schedule(org_id, flow_id, schedule["id"], cron="0 4 * * *", timezone="UTC")
    )
    assert changed["cron"] == "0 4 * * *"
    with pytest.raises(ValidationError):
        await call(alice.create_schedule(org_id, flow_id, "not a cron"))
    await call(alice.delete_schedule(org_id, flow_id, schedule["id"]))
    assert await collect(alice.list_schedules(org_id, flow_id)) == []

    # --- inbound webhooks --------------------------------------------------------------
    hook = await call(alice.create_webhook(org_id, flow_id, name="ci"))
    assert hook["id"].startswith("wh_") and hook["secret"].startswith("whsec_")
    assert [h["id"] for h in await collect(alice.list_webhooks(org_id, flow_id))] == [hook["id"]]
    assert all("secret" not in h for h in await collect(alice.list_webhooks(org_id, flow_id)))
    rotated = await call(alice.rotate_webhook_secret(org_id, flow_id, hook["id"]))
    assert rotated["secret"] != hook["secret"]
    await call(alice.delete_webhook(org_id, flow_id, hook["id"]))
    assert await collect(alice.list_webhooks(org_id, flow_id)) == []
    with pytest.raises(ValidationError):  # a private target, on a default server
        await call(alice.create_event_webhook(org_id, "http://127.0.0.1:9/x", ["flow.created"]))
    assert await collect(alice.list_event_webhooks(org_id)) == []
    with pytest.raises(NotFound):
        await collect(alice.list_event_deliveries(org_id, "ewh_nope"))
    with pytest.raises(NotFound):
        await call(alice.delete_event_webhook(org_id, "ewh_nope"))

    # --- trash, errors, leaving ------------------------------------------------------
    await call(alice.delete_flow(org_id, flow_id))
    with pytest.raises(NotFound) as missing:
        await call(alice.get_flow(org_id, flow_id))
    assert missing.value.code == "not_found" and missing.value.request_id
    assert [f["id"] for f in await collect(alice.list_flows(org_id, deleted=True))] == [flow_id]
    assert (await call(alice.undelete_flow(org_id, flow_id)))["id"] == flow_id
    with pytest.raises(ValidationError) as invalid:
        await call(alice.invite(org_id, "not an email", "editor"))
    assert invalid.value.status == 422 and invalid.value.details
    with pytest.raises(Conflict):
        await call(alice.remove_member(org_id, me["user"]["id"]))  # the last admin
    await call(alice.remove_member(org_id, bob_id))
    await call(alice.delete_org(org_id))
    await call(alice.logout())
    assert alice.token is None


async def test_lists_are_iterators_over_pages(server: ServerProcess, kind: str) -> None:
    recorder = Recorder()
    client = make(kind, server.base_url, recorder, page_size=2)
    try:
        await call(client.signup(email("pages"), "pages password 1"))
        org = await call(client.create_org("Pages"))
        made = [(await call(client.create_flow(org["id"], f"f{i}")))["id"] for i in range(5)]
        before = len(recorder.requests)
        listed = [f["id"] for f in await collect(client.list_flows(org["id"]))]
        assert sorted(listed) == sorted(made) and len(set(listed)) == 5
        pages = recorder.requests[before:]
        assert len(pages) == 3 and all(r.url.params["limit"] == "2" for r in pages)
        assert "cursor" not in pages[0].url.params and pages[1].url.params["cursor"]
    finally:
        await close(client)


class DropFirstAnswer(httpx.HTTPTransport):
    """Forwards the first write, then loses its answer as a network failure would."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/flows"):
            self.writes.append(request)
            if len(self.writes) == 1:
                response.read()
                response.close()
                raise httpx.ReadError("connection reset", request=request)
        return response


def test_a_write_whose_answer_was_lost_runs_once(server: ServerProcess) -> None:
    transport = DropFirstAnswer()
    with Client(server.base_url, transport=transport) as client:
        client.signup(email("retry"), "retry password 1")
        org = client.create_org("Retry")
        flow = client.create_flow(org["id"], "once")
        keys = {r.headers["idempotency-key"] for r in transport.writes}
        assert len(transport.writes) == 2 and len(keys) == 1
        assert [f["id"] for f in client.list_flows(org["id"])] == [flow["id"]]


def test_no_answer_at_all_is_a_network_error(tmp_path: Any) -> None:
    from minibase.client import NetworkError, Retry
    from tests.process import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, retry=Retry(attempts=2, backoff=0.01)) as client, pytest.raises(NetworkError):
        client.health()


def test_errors_form_one_tree() -> None:
    from minibase.client import errors

    for name in errors.__dict__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, errors.MinibaseClientError), name
    error = errors.api_error(
        409,
        {"error": {"code": "version_conflict", "message": "m", "details": {"currentVersion": 3}}},
        "req_1",
    )
    assert isinstance(error, errors.VersionConflict) and isinstance(error, errors.Conflict)
    assert (error.status, error.code, error.details, error.request_id) == (
        409,
        "version_conflict",
        {"currentVersion": 3},
        "req_1",
    )
    limited = errors.api_error(429, {"error": {"code": "rate_limited", "message": "m"}}, None, "2")
    assert isinstance(limited, errors.RateLimited) and limited.retry_after == 2.0
    html = errors.api_error(502, "<html>", None)
    assert isinstance(html, errors.ServerError) and html.status == 502


def test_both_clients_have_the_same_methods() -> None:
    import inspect

    def public(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_") and name not in {"close", "aclose"}
        }

    sync, async_ = public(Client), public(AsyncClient)
    assert sync.keys() == async_.keys()
    for name, signature in sync.items():
        other = async_[name]
        assert list(signature.parameters) == list(other.parameters), name
