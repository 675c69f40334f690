"""Comments: threads, replies, edit and delete rights, resolve, orphaned node comments,
the org's ``commentsBy`` setting, bad input."""

from __future__ import annotations

from typing import Any

import httpx

from tests.flows_helpers import Org, new_org, node
from tests.helpers import User
from tests.test_http_basics import assert_error
from tests.together_helpers import add_member


def comments_url(org: Org, flow_id: str) -> str:
    return f"/v1/orgs/{org.id}/flows/{flow_id}/comments"


async def comment(
    client: httpx.AsyncClient, org: Org, flow_id: str, user: User, **body: Any
) -> dict[str, Any]:
    response = await client.post(comments_url(org, flow_id), json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def threads(
    client: httpx.AsyncClient, org: Org, flow_id: str, user: User, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(comments_url(org, flow_id), params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_threads_replies_and_filters(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=[node("a"), node("b")])
    viewer = await add_member(client, org.admin, org.id, "viewer")

    on_flow = await comment(client, org, flow["id"], org.admin, body="Looks good")
    assert on_flow["id"].startswith("cmt_") and on_flow["nodeId"] is None
    assert on_flow["author"]["id"] == org.admin.id and on_flow["author"]["email"] == org.admin.email
    assert (on_flow["resolved"], on_flow["editedAt"], on_flow["mentions"]) == (False, None, [])
    on_a = await comment(client, org, flow["id"], viewer, body="<b>why</b> this?", nodeId="a")
    assert on_a["body"] == "<b>why</b> this?"  # kept as text, never interpreted
    reply = await comment(client, org, flow["id"], org.admin, body="because", parentId=on_a["id"])
    assert (reply["parentId"], reply["nodeId"]) == (on_a["id"], "a")
    # A reply to a reply joins the thread.
    nested = await comment(client, org, flow["id"], viewer, body="ok", parentId=reply["id"])
    assert nested["parentId"] == on_a["id"]

    listed = await threads(client, org, flow["id"], viewer)
    assert [t["id"] for t in listed] == [on_flow["id"], on_a["id"]]
    assert [r["id"] for r in listed[1]["replies"]] == [reply["id"], nested["id"]]
    assert [t["id"] for t in await threads(client, org, flow["id"], viewer, nodeId="a")] == [
        on_a["id"]
    ]
    first = await client.get(
        comments_url(org, flow["id"]), params={"limit": 1}, headers=viewer.headers
    )
    assert [t["id"] for t in first.json()["items"]] == [on_flow["id"]]
    second = await client.get(
        comments_url(org, flow["id"]),
        params={"limit": 1, "cursor": first.json()["nextCursor"]},
        headers=viewer.headers,
    )
    assert [t["id"] for t in second.json()["items"]] == [on_a["id"]]
    assert second.json()["nextCursor"] is None


async def test_edit_resolve_delete_rights(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=[node("a")])
    viewer = await add_member(client, org.admin, org.id, "viewer")
    editor = await add_member(client, org.admin, org.id, "editor")
    url = comments_url(org, flow["id"])
    mine = await comment(client, org, flow["id"], viewer, body="first")

    edited = await client.patch(
        f"{url}/{mine['id']}", json={"body": "first, edited"}, headers=viewer.headers
    )
    assert edited.status_code == 200 and edited.json()["body"] == "first, edited"
    assert edited.json()["editedAt"] is not None
    not_author = await client.patch(
        f"{url}/{mine['id']}", json={"body": "hijack"}, headers=editor.headers
    )
    assert_error(not_author, 403, "forbidden")

    viewer_resolves = await client.patch(
        f"{url}/{mine['id']}", json={"resolved": True}, headers=viewer.headers
    )
    assert_error(viewer_resolves, 403, "forbidden")
    resolved = await client.patch(
        f"{url}/{mine['id']}", json={"resolved": True}, headers=editor.headers
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolved"] is True and resolved.json()["resolvedBy"] == editor.id
    assert [t["id"] for t in await threads(client, org, flow["id"], viewer, resolved="true")] == [
        mine["id"]
    ]
    assert await threads(client, org, flow["id"], viewer, resolved="false") == []
    reopened = await client.patch(
        f"{url}/{mine['id']}", json={"resolved": False}, headers=editor.headers
    )
    assert reopened.json()["resolved"] is False and reopened.json()["resolvedBy"] is None

    reply = await comment(client, org, flow["id"], editor, body="re", parentId=mine["id"])
    resolve_reply = await client.patch(
        f"{url}/{reply['id']}", json={"resolved": True}, headers=editor.headers
    )
    assert_error(resolve_reply, 422, "validation_error")

    assert_error(
        await client.delete(f"{url}/{mine['id']}", headers=editor.headers), 403, "forbidden"
    )
    assert (await client.delete(f"{url}/{reply['id']}", headers=editor.headers)).status_code == 204
    other = await comment(client, org, flow["id"], editor, body="second")
    # An admin deletes anyone's; a thread's first comment takes its replies along.
    await comment(client, org, flow["id"], viewer, body="re", parentId=other["id"])
    assert (await client.delete(f"{url}/{other['id']}", headers=org.admin.headers)).status_code == (
        204
    )
    # The author deletes their own.
    assert (await client.delete(f"{url}/{mine['id']}", headers=viewer.headers)).status_code == 204
    assert await threads(client, org, flow["id"], org.admin) == []
    gone = await client.patch(f"{url}/{mine['id']}", json={"body": "x"}, headers=viewer.headers)
    assert_error(gone, 404, "not_found")


async def test_node_comments_follow_the_node_and_are_kept_when_it_goes(
    client: httpx.AsyncClient,
) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=[node("a", 0, 0), node("b")])
    on_a = await comment(client, org, flow["id"], org.admin, body="pin", nodeId="a")
    moved = await client.patch(
        f"{org.flows_url}/{flow['id']}",
        json={"ops": [{"op": "updateNode", "id": "a", "set": {"position": {"x": 500, "y": 80}}}]},
        headers=org.admin.headers,
    )
    assert moved.status_code == 200, moved.text
    (listed,) = await threads(client, org, flow["id"], org.admin)
    assert (listed["nodeId"], listed["orphaned"]) == ("a", False)
    removed = await client.patch(
        f"{org.flows_url}/{flow['id']}",
        json={"ops": [{"op": "removeNode", "id": "a"}]},
        headers=org.admin.headers,
    )
    assert removed.status_code == 200, removed.text
    (listed,) = await threads(client, org, flow["id"], org.admin)
    assert (listed["id"], listed["nodeId"], listed["orphaned"]) == (on_a["id"], "a", True)


async def test_who_may_comment_follows_the_org_setting(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow()
    viewer = await add_member(client, org.admin, org.id, "viewer")
    editor = await add_member(client, org.admin, org.id, "editor")
    await comment(client, org, flow["id"], viewer, body="viewers may, by default")
    await org.patch_settings(commentsBy="editor")
    org_body = (await client.get(f"/v1/orgs/{org.id}", headers=org.admin.headers)).json()
    assert org_body["settings"]["commentsBy"] == "editor"
    refused = await client.post(
        comments_url(org, flow["id"]), json={"body": "me too"}, headers=viewer.headers
    )
    assert_error(refused, 403, "forbidden")
    await comment(client, org, flow["id"], editor, body="editors still may")
    bad = await client.patch(
        f"/v1/orgs/{org.id}", json={"settings": {"commentsBy": "owner"}}, headers=org.admin.headers
    )
    assert_error(bad, 422, "validation_error")


async def test_bad_input(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=[node("a")])
    url = comments_url(org, flow["id"])
    h = org.admin.headers
    for body in (
        {"body": ""},
        {"body": "   "},
        {"body": "x" * 10_001},
        {"body": "x", "nodeId": "nope"},
        {"body": "x", "parentId": "cmt_nope"},
        {"body": 5},
        {"text": "x"},
    ):
        assert_error(await client.post(url, json=body, headers=h), 422, "validation_error")
    assert (await client.post(url, json={"body": "x" * 10_000}, headers=h)).status_code == 201
    unknown_flow = await client.post(
        f"/v1/orgs/{org.id}/flows/flow_nope/comments", json={"body": "x"}, headers=h
    )
    assert_error(unknown_flow, 404, "not_found")
    assert_error(
        await client.get(f"/v1/orgs/{org.id}/flows/flow_nope/comments", headers=h),
        404,
        "not_found",
    )
    assert_error(await client.post(url, content=b"{", headers=h), 400, "bad_request")
