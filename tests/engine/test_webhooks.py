"""Inbound webhooks: management, Standard Webhooks signatures, replays, rotation, limits,
and secrets that never reach the database or a log in plaintext (both databases)."""

from __future__ import annotations

import base64
import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from minibase.config import Settings
from minibase.context import AppContext
from minibase.crypto.envelope import is_sealed
from minibase.crypto.webhook_secrets import SecretUnreadable, open_secret, seal_secret
from minibase.domain.principal import SYSTEM
from minibase.services.webhooks import secrets_key
from minibase.store.tables import flow_webhooks
from tests.engine.helpers import e, n
from tests.engine.runs_helpers import wait_for
from tests.flows_helpers import Org, new_org
from tests.test_access_matrix import invite_as
from tests.test_http_basics import assert_error
from tests.test_tokens_at_rest import _postgres_dump

FLOW = ([n("in", "input", source="payload"), n("out", "output")], [e("in", "out")])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "run_in_server": "always",
            "run_poll_seconds": 0.05,
            "run_lease_seconds": 3.0,
            "webhook_max_body_bytes": 2048,
        }
    )


def url(org: Org, flow_id: str) -> str:
    return f"{org.flows_url}/{flow_id}/webhooks"


async def create(org: Org, flow_id: str, **body: Any) -> dict[str, Any]:
    response = await org.client.post(url(org, flow_id), json=body, headers=org.admin.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def signed(
    secret: str, body: bytes, msg_id: str = "msg_1", at: float | None = None
) -> dict[str, str]:
    when = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body),
    }


async def post_hook(
    client: httpx.AsyncClient, hook: dict[str, Any], body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(f"/v1/hooks/{hook['id']}", content=body, headers=headers)


async def run_count(org: Org) -> int:
    response = await org.client.get(f"/v1/orgs/{org.id}/runs", headers=org.admin.headers)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def test_manage_webhooks_and_roles(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    created = await create(org, flow["id"], name="stripe")
    assert created["id"].startswith("wh_") and created["secret"].startswith("whsec_")
    assert created["url"].endswith(f"/v1/hooks/{created['id']}")
    assert created["name"] == "stripe" and created["flowId"] == flow["id"]
    unnamed = await client.post(url(org, flow["id"]), headers=org.admin.headers)
    assert unnamed.status_code == 201 and unnamed.json()["name"] is None

    listed = (await client.get(url(org, flow["id"]), headers=org.admin.headers)).json()
    assert [w["id"] for w in listed["items"]] == [created["id"], unnamed.json()["id"]]
    assert all("secret" not in w for w in listed["items"])

    viewer = await invite_as(client, org.admin, org.id, "viewer")
    editor = await invite_as(client, org.admin, org.id, "editor")
    assert (await client.get(url(org, flow["id"]), headers=viewer.headers)).status_code == 200
    denied = await client.post(url(org, flow["id"]), json={}, headers=viewer.headers)
    assert_error(denied, 403, "forbidden")
    item = f"{url(org, flow['id'])}/{created['id']}"
    assert_error(
        await client.post(f"{item}/rotate-secret", headers=viewer.headers), 403, "forbidden"
    )
    assert_error(await client.delete(item, headers=viewer.headers), 403, "forbidden")
    by_editor = await client.post(url(org, flow["id"]), json={}, headers=editor.headers)
    assert by_editor.status_code == 201

    assert_error(
        await client.post(url(org, flow["id"]), json={"name": 5}, headers=org.admin.headers),
        422,
        "validation_error",
    )
    assert_error(
        await client.post(url(org, flow["id"]), json={"nope": 1}, headers=org.admin.headers),
        422,
        "validation_error",
    )
    assert_error(
        await client.post(url(org, "flow_nope"), json={}, headers=org.admin.headers),
        404,
        "not_found",
    )
    other = await new_org(client)
    assert_error(await client.delete(item, headers=other.admin.headers), 404, "not_found")

    assert (await client.delete(item, headers=org.admin.headers)).status_code == 204
    assert_error(await client.delete(item, headers=org.admin.headers), 404, "not_found")
    body = b"{}"
    gone = await post_hook(client, created, body, signed(created["secret"], body))
    assert_error(gone, 404, "not_found")

    audit = (await client.get(f"/v1/orgs/{org.id}/audit", headers=org.admin.headers)).json()
    actions = [a["action"] for a in audit["items"]]
    assert "webhook.create" in actions and "webhook.delete" in actions
    assert created["secret"] not in str(audit)


async def test_signed_delivery_starts_a_run_with_the_payload(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    hook = await create(org, flow["id"])
    body = b'{"event": "paid", "amount": 42}'
    answer = await post_hook(client, hook, body, signed(hook["secret"], body))
    assert answer.status_code == 202, answer.text
    run = await wait_for(org, answer.json()["runId"])
    assert run["status"] == "succeeded", run
    assert run["trigger"] == {"type": "webhook", "id": hook["id"]}
    assert run["flowId"] == flow["id"]
    outputs = (
        await client.get(
            f"{org.flows_url}/{flow['id']}/outputs",
            params={"nodeId": "out"},
            headers=org.admin.headers,
        )
    ).json()["items"]
    assert any(o["runId"] == run["id"] and "paid" in str(o) for o in outputs), outputs

    # The same webhook-id again: the first run, and no new one.
    again = await post_hook(client, hook, body, signed(hook["secret"], body))
    assert again.status_code == 200 and again.json() == {"runId": run["id"]}
    assert await run_count(org) == 1
    # A new webhook-id is a new run; an empty body is a null payload.
    empty = await post_hook(client, hook, b"", signed(hook["secret"], b"", msg_id="msg_2"))
    assert empty.status_code == 202 and empty.json()["runId"] != run["id"]
    assert await run_count(org) == 2


async def test_bad_signatures_start_nothing(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    hook = await create(org, flow["id"])
    other = await create(org, flow["id"])
    body = b'{"a": 1}'
    good = signed(hook["secret"], body)

    cases: list[tuple[str, dict[str, str], bytes]] = [
        ("wrong secret", signed(other["secret"], body), body),
        ("body changed", good, b'{"a": 2}'),
        # 30 s past the 5-minute tolerance: the cases are signed now and sent one after
        # the other, and a future timestamp only 1 s out was inside it again by the time
        # a slow machine sent it (a flaky failure, seen once).
        ("old timestamp", signed(hook["secret"], body, at=time.time() - 330), body),
        ("future timestamp", signed(hook["secret"], body, at=time.time() + 330), body),
        ("garbage signature", {**good, "webhook-signature": "v1,AAAA"}, body),
        ("not a number", {**good, "webhook-timestamp": "soon"}, body),
        ("long id", signed(hook["secret"], body, msg_id="x" * 300), body),
    ]
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        cases.append((f"no {name}", {k: v for k, v in good.items() if k != name}, body))
    for label, headers, sent in cases:
        response = await post_hook(client, hook, sent, headers)
        assert response.status_code == 401, (label, response.text)
        assert_error(response, 401, "unauthenticated")
    # Just inside the window is fine; a body that is not JSON is a 400, after the signature.
    inside = await post_hook(client, hook, body, signed(hook["secret"], body, at=time.time() - 240))
    assert inside.status_code == 202, inside.text
    bad_json = b"not json"
    not_json = await post_hook(
        client, hook, bad_json, signed(hook["secret"], bad_json, msg_id="msg_j")
    )
    assert_error(not_json, 400, "bad_request")
    too_big = b'{"x": "' + b"y" * 3000 + b'"}'
    big = await post_hook(client, hook, too_big, signed(hook["secret"], too_big, msg_id="msg_b"))
    assert_error(big, 413, "payload_too_large")
    unknown = await client.post("/v1/hooks/wh_nope", content=body, headers=good)
    assert_error(unknown, 404, "not_found")
    assert await run_count(org) == 1


async def test_rotate_secret_invalidates_the_old_one(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    hook = await create(org, flow["id"])
    rotated = await client.post(
        f"{url(org, flow['id'])}/{hook['id']}/rotate-secret", headers=org.admin.headers
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != hook["secret"]
    assert rotated.json()["rotatedAt"] is not None
    body = b"{}"
    old = await post_hook(client, hook, body, signed(hook["secret"], body))
    assert_error(old, 401, "unauthenticated")
    fresh = await post_hook(client, hook, body, signed(new_secret, body))
    assert fresh.status_code == 202, fresh.text
    audit = (await client.get(f"/v1/orgs/{org.id}/audit", headers=org.admin.headers)).json()
    assert "webhook.rotate_secret" in [a["action"] for a in audit["items"]]


async def test_a_flow_that_cannot_run_is_a_422(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=[n("x", "no_such_type")])
    hook = await create(org, flow["id"])
    body = b"{}"
    response = await post_hook(client, hook, body, signed(hook["secret"], body))
    assert_error(response, 422, "validation_error")
    assert await run_count(org) == 0


async def test_secrets_are_not_stored_or_logged(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    hook = await create(org, flow["id"])
    rotated = await client.post(
        f"{url(org, flow['id'])}/{hook['id']}/rotate-secret", headers=org.admin.headers
    )
    secrets = [hook["secret"], rotated.json()["secret"]]
    body = b'{"sentinel": "payload"}'
    headers = signed(secrets[1], body)
    assert (await post_hook(client, hook, body, headers)).status_code == 202
    bad = signed(secrets[0], body, msg_id="msg_bad")
    assert (await post_hook(client, hook, body, bad)).status_code == 401
    fragments = [s.encode() for s in secrets]
    fragments += [s[len("whsec_") :].encode() for s in secrets]
    fragments += [base64.b64decode(s[len("whsec_") :]) for s in secrets]
    if settings.is_sqlite:
        ctx: AppContext = app.state.ctx
        await ctx.database.close()
        db = settings.data_dir / "minibase.db"
        raw = b"".join(p.read_bytes() for p in (db, db.with_name("minibase.db-wal")) if p.exists())
        assert hook["id"].encode() in raw  # the search does see stored data
        for fragment in fragments:
            assert fragment not in raw
    else:
        dump_text = await _postgres_dump(settings.database_url)
        assert hook["id"] in dump_text
        for secret in secrets:
            assert secret not in dump_text and secret[len("whsec_") :] not in dump_text
    key_file = settings.data_dir / "master.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for text in (*secrets, headers["webhook-signature"], bad["webhook-signature"]):
        assert text not in logged
        assert text.split(",")[-1] not in logged


async def _stored_secret(app: FastAPI, org_id: str, webhook_id: str) -> bytes:
    ctx: AppContext = app.state.ctx
    async with ctx.store.tenant(org_id, SYSTEM) as uow:
        stmt = uow.select(flow_webhooks).where(flow_webhooks.c.id == webhook_id)
        return bytes((await uow.execute(stmt)).one().sealed_secret)


async def _store_secret(app: FastAPI, org_id: str, webhook_id: str, sealed: bytes) -> None:
    ctx: AppContext = app.state.ctx
    async with ctx.store.tenant(org_id, SYSTEM, write=True) as uow:
        await uow.execute(
            uow.update(flow_webhooks)
            .where(flow_webhooks.c.id == webhook_id)
            .values(sealed_secret=sealed)
        )


async def test_secrets_are_sealed_under_the_orgs_data_key(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    first, second = await create(org, flow["id"]), await create(org, flow["id"])
    stored = await _stored_secret(app, org.id, first["id"])
    assert is_sealed(stored)  # the envelope of the org's data key, not the instance key
    with pytest.raises(SecretUnreadable):
        open_secret(secrets_key(settings), org.id, first["id"], stored)
    body = b"{}"
    assert (await post_hook(client, first, body, signed(first["secret"], body))).status_code == 202
    # Bound to its row: the first hook's sealed secret copied into the second's opens nowhere.
    await _store_secret(app, org.id, second["id"], stored)
    moved = await post_hook(client, second, body, signed(first["secret"], body, msg_id="msg_2"))
    assert_error(moved, 401, "unauthenticated")
    # A secret sealed under the instance key (before per-org keys) still verifies.
    legacy = seal_secret(secrets_key(settings), org.id, second["id"], second["secret"])
    await _store_secret(app, org.id, second["id"], legacy)
    again = await post_hook(client, second, body, signed(second["secret"], body, msg_id="msg_3"))
    assert again.status_code == 202, again.text
