"""Notifications: mentions, replies, role changes, invitations; read state; mail with
per-user preferences (a real SMTP server on loopback); the live queries."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from sqlalchemy import select

from minibase.app import create_app
from minibase.config import Settings
from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.store.tables import notifications
from tests.flows_helpers import new_org, node
from tests.helpers import signup
from tests.test_comments import comment, comments_url
from tests.test_http_basics import assert_error
from tests.test_invitation_delivery import _smtp_session
from tests.together_helpers import TIMEOUT, WaitingMailbox, add_member, notifications_of


async def test_mentions_and_replies_notify_members_only(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(name="Pipeline", nodes=[node("a")])
    ann = await add_member(client, org.admin, org.id, "viewer")
    bob = await add_member(client, org.admin, org.id, "editor")
    outsider = await signup(client)

    text = f"@{ann.email.upper()} and @{outsider.email} and @{org.admin.email}: look"
    first = await comment(client, org, flow["id"], org.admin, body=text, nodeId="a")
    assert [m["id"] for m in first["mentions"]] == [ann.id, org.admin.id]
    mention, invitation = await notifications_of(client, ann)
    assert invitation["kind"] == "invitation"
    assert mention["kind"] == "mention" and mention["organizationId"] == org.id
    assert mention["read"] is False
    assert mention["data"]["commentId"] == first["id"]
    assert mention["data"]["flowName"] == "Pipeline" and mention["data"]["nodeId"] == "a"
    assert mention["data"]["by"]["id"] == org.admin.id
    assert await notifications_of(client, outsider) == []  # not a member: plain text
    admin_kinds = [n["kind"] for n in await notifications_of(client, org.admin)]
    assert "mention" not in admin_kinds  # mentioning oneself notifies no one

    # A reply notifies the thread's participants, except whoever it mentions (mention
    # only) and the replier.
    await comment(client, org, flow["id"], bob, body="agreed", parentId=first["id"])
    latest = (await notifications_of(client, org.admin))[0]
    assert latest["kind"] == "comment_reply"
    await comment(client, org, flow["id"], ann, body=f"@{bob.email} see?", parentId=first["id"])
    bob_kinds = [n["kind"] for n in await notifications_of(client, bob)]
    assert bob_kinds.count("mention") == 1 and "comment_reply" not in bob_kinds

    # Editing in a new mention notifies only the newly mentioned.
    edited = await client.patch(
        f"{comments_url(org, flow['id'])}/{first['id']}",
        json={"body": f"{text} and @{bob.email}"},
        headers=org.admin.headers,
    )
    assert edited.status_code == 200, edited.text
    assert len([n for n in await notifications_of(client, ann) if n["kind"] == "mention"]) == 1
    assert len([n for n in await notifications_of(client, bob) if n["kind"] == "mention"]) == 2


async def test_read_state(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow()
    ann = await add_member(client, org.admin, org.id, "viewer")
    for i in range(3):
        await comment(client, org, flow["id"], org.admin, body=f"@{ann.email} #{i}")
    items = [n for n in await notifications_of(client, ann) if n["kind"] == "mention"]
    assert len(items) == 3 and [i["data"]["excerpt"][-2:] for i in items] == ["#2", "#1", "#0"]
    page = (await client.get("/v1/notifications", headers=ann.headers)).json()
    assert page["unreadCount"] == 4 and page["nextCursor"] is None

    other = await signup(client)
    ignored = await client.post(
        "/v1/notifications/read", json={"ids": [items[0]["id"]]}, headers=other.headers
    )
    assert ignored.json() == {"updated": 0}  # someone else's id changes nothing
    marked = await client.post(
        "/v1/notifications/read", json={"ids": [items[0]["id"]]}, headers=ann.headers
    )
    assert marked.json() == {"updated": 1}
    unread = await notifications_of(client, ann, unread="true")
    assert [n["id"] for n in unread][:2] == [items[1]["id"], items[2]["id"]]
    assert (
        await client.post("/v1/notifications/read", json={"all": True}, headers=ann.headers)
    ).json() == {"updated": 3}
    assert await notifications_of(client, ann, unread="true") == []
    assert_error(
        await client.post("/v1/notifications/read", json={}, headers=ann.headers),
        422,
        "validation_error",
    )
    limited = await client.get("/v1/notifications", params={"limit": 2}, headers=ann.headers)
    assert len(limited.json()["items"]) == 2 and limited.json()["nextCursor"]


async def test_role_changes_and_invitations_notify(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    ann = await add_member(client, org.admin, org.id, "viewer")
    (invited,) = await notifications_of(client, ann)  # she had an account when invited
    assert invited["kind"] == "invitation" and invited["data"]["role"] == "viewer"
    changed = await client.patch(
        f"/v1/orgs/{org.id}/members/{ann.id}", json={"role": "editor"}, headers=org.admin.headers
    )
    assert changed.status_code == 200
    latest = (await notifications_of(client, ann))[0]
    assert latest["kind"] == "role_changed"
    assert (latest["data"]["role"], latest["data"]["previousRole"]) == ("editor", "viewer")


async def test_email_preferences(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    me = (await client.get("/v1/me", headers=user.headers)).json()
    assert me["notificationEmails"]["mention"] is True
    assert me["notificationEmails"]["invitation"] is False
    changed = await client.patch(
        "/v1/me", json={"notificationEmails": {"mention": False}}, headers=user.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["notificationEmails"]["mention"] is False
    assert changed.json()["user"]["id"] == user.id
    again = await client.patch(
        "/v1/me", json={"notificationEmails": {"task_assigned": False}}, headers=user.headers
    )
    emails = again.json()["notificationEmails"]
    assert (emails["mention"], emails["task_assigned"], emails["run_failed"]) == (
        False,
        False,
        True,
    )
    for bad in ({"notificationEmails": {"nope": True}}, {"notificationEmails": {"mention": 3}}):
        assert_error(
            await client.patch("/v1/me", json=bad, headers=user.headers), 422, "validation_error"
        )


@pytest.fixture
async def mailbox() -> AsyncIterator[WaitingMailbox]:
    box = WaitingMailbox()
    server = await asyncio.start_server(lambda r, w: _smtp_session(r, w, box), "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    async with server:
        yield box


@pytest.fixture
async def mail_app(settings: Settings, mailbox: WaitingMailbox) -> AsyncIterator[FastAPI]:
    configured = settings.model_copy(
        update={"smtp_url": f"smtp://127.0.0.1:{mailbox.port}", "public_url": "https://mb.example"}
    )
    application = create_app(configured, run_migrations=False)
    async with application.router.lifespan_context(application):
        yield application


async def test_mention_notification_email(mail_app: FastAPI, mailbox: WaitingMailbox) -> None:
    transport = httpx.ASGITransport(app=mail_app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        org = await new_org(client)
        flow = await org.create_flow(name="Pipeline")
        ann = await add_member(client, org.admin, org.id, "viewer")
        quiet = await add_member(client, org.admin, org.id, "viewer")
        await client.patch(
            "/v1/me", json={"notificationEmails": {"mention": False}}, headers=quiet.headers
        )
        invitation_mails = len(await mailbox.wait_for(2))  # the two invitations
        await comment(client, org, flow["id"], org.admin, body=f"hi @{quiet.email} @{ann.email} <3")
        messages = await mailbox.wait_for(invitation_mails + 1)
    (_, rcpt, data) = messages[-1]
    assert rcpt == [ann.email]
    mail = email.message_from_string(data.removesuffix(".\r\n"), policy=email.policy.default)
    assert "mentioned you on Pipeline" in str(mail["Subject"])
    text = mail.get_content()  # type: ignore[attr-defined]
    assert "<3" in text and f"https://mb.example/orgs/{org.id}/flows/{flow['id']}" in text
    ctx: AppContext = mail_app.state.ctx
    async with ctx.store.global_(SYSTEM) as uow:
        rows = (
            await uow.execute(select(notifications.c.user_id, notifications.c.email_status))
        ).all()
    statuses = {(r.user_id, r.email_status) for r in rows}
    # "sending" until the mailer records the delivery it just made.
    assert {(ann.id, "sent"), (ann.id, "sending")} & statuses and (quiet.id, "off") in statuses
    assert len(mailbox.messages) == invitation_mails + 1


_BUFFERED: dict[tuple[int, str], list[dict[str, Any]]] = {}


async def _recv_for(ws: Any, sub_id: str) -> dict[str, Any]:
    """The next frame for ``sub_id``; frames of other subscriptions wait their turn."""
    waiting = _BUFFERED.setdefault((id(ws), sub_id), [])
    while not waiting:
        message = dict(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))
        _BUFFERED.setdefault((id(ws), str(message.get("id"))), []).append(message)
    return waiting.pop(0)


async def test_live_comments_and_notifications(client: httpx.AsyncClient, live_url: str) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=[node("a")])
    ann = await add_member(client, org.admin, org.id, "viewer")
    async with websockets.connect(f"ws://{live_url}/v1/sync?token={ann.token}") as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "c",
                    "query": "comments.list",
                    "args": {"orgId": org.id, "flowId": flow["id"]},
                }
            )
        )
        assert (await _recv_for(ws, "c"))["value"]["items"] == []
        # Client-given args of a user-scoped query are ignored: it is always one's own.
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "n",
                    "query": "notifications.list",
                    "args": {"userId": org.admin.id},
                }
            )
        )
        initial = await _recv_for(ws, "n")
        assert [i["kind"] for i in initial["value"]["items"]] == ["invitation"]
        created = await comment(client, org, flow["id"], org.admin, body=f"@{ann.email} hey")
        (thread,) = (await _recv_for(ws, "c"))["value"]["items"]
        assert thread["id"] == created["id"]
        pushed = await _recv_for(ws, "n")
        assert pushed["value"]["items"][0]["kind"] == "mention"
        assert pushed["value"]["unreadCount"] == 2
        await client.post("/v1/notifications/read", json={"all": True}, headers=ann.headers)
        assert (await _recv_for(ws, "n"))["value"]["unreadCount"] == 0
        # Deleting the node marks the comment orphaned, live.
        await client.patch(
            f"{org.flows_url}/{flow['id']}",
            json={"ops": [{"op": "removeNode", "id": "a"}]},
            headers=org.admin.headers,
        )
        await comment(client, org, flow["id"], org.admin, body="x", nodeId=None)
        frame = await _recv_for(ws, "c")
        assert frame["value"]["items"][0]["orphaned"] is False  # a flow comment

    key = await client.post(
        f"/v1/orgs/{org.id}/api-keys",
        json={"name": "k", "role": "admin"},
        headers=org.admin.headers,
    )
    async with websockets.connect(f"ws://{live_url}/v1/sync?token={key.json()['key']}") as ws:
        await ws.send(
            json.dumps({"type": "subscribe", "id": "n", "query": "notifications.list", "args": {}})
        )
        refused = await _recv_for(ws, "n")
        assert refused["type"] == "error" and refused["error"]["code"] == "forbidden"


async def test_task_and_quota_mails(mail_app: FastAPI, mailbox: WaitingMailbox) -> None:
    """task_assigned and quota_warning go out by mail too, to whom they concern, once."""
    transport = httpx.ASGITransport(app=mail_app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        org = await new_org(client)
        bob = await add_member(client, org.admin, org.id, "editor")
        before = len(await mailbox.wait_for(1))  # the invitation
        assigned = await client.post(
            f"/v1/orgs/{org.id}/tasks",
            json={"title": "Check the ETL", "assigneeId": bob.id},
            headers=org.admin.headers,
        )
        assert assigned.status_code == 201, assigned.text
        (_, rcpt, data) = (await mailbox.wait_for(before + 1))[-1]
        assert rcpt == [bob.email] and "assigned you a task: Check the ETL" in data
        await org.patch_settings(maxFlows=1)
        await org.create_flow(name="Only")
        (_, rcpt, data) = (await mailbox.wait_for(before + 2))[-1]
        assert rcpt == [org.admin.email] and "has used 100% of maxFlows" in data
        kinds = [n["kind"] for n in await notifications_of(client, org.admin)]
        assert kinds.count("quota_warning") == 1
    assert len(mailbox.messages) == before + 2


async def test_excerpts_are_sealed_under_the_source_orgs_key(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    org = await new_org(client)
    flow = await org.create_flow()
    ann = await add_member(client, org.admin, org.id, "viewer")
    sentinel = "SENTINEL-excerpt-7f3a"
    await comment(client, org, flow["id"], org.admin, body=f"@{ann.email} {sentinel}")
    (mention,) = [n for n in await notifications_of(client, ann) if n["kind"] == "mention"]
    assert mention["data"]["excerpt"].endswith(sentinel)  # opened when read
    ctx: AppContext = app.state.ctx
    async with ctx.store.global_(SYSTEM) as uow:
        stored = (
            await uow.execute(
                select(notifications.c.data).where(notifications.c.id == mention["id"])
            )
        ).scalar_one()
    assert sentinel not in json.dumps(stored) and stored["excerpt"].startswith("mbe1:")
    assert stored["commentId"] == mention["data"]["commentId"]  # the rest stays readable
    exported = (await client.get("/v1/me/export", headers=ann.headers)).json()
    (row,) = [n for n in exported["notifications"] if n["id"] == mention["id"]]
    assert row["data"]["excerpt"] == mention["data"]["excerpt"]
    # Deleting the org destroys its key: the excerpt cannot be read any more, the rest can.
    deleted = await client.delete(f"/v1/orgs/{org.id}", headers=org.admin.headers)
    assert deleted.status_code == 204, deleted.text
    (after,) = [n for n in await notifications_of(client, ann) if n["id"] == mention["id"]]
    assert after["data"]["excerpt"] is None and after["data"]["commentId"]
