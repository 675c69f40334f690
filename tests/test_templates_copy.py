"""Templates (save, list, instantiate, export, import) and cross-org copy and paste, with
the target's quotas and node types applied and audit rows in both orgs."""

from __future__ import annotations

from typing import Any

import httpx

from tests.flows_helpers import Org, edge, new_org, node
from tests.test_http_basics import assert_error
from tests.together_helpers import add_member


async def audit_actions(client: httpx.AsyncClient, org: Org) -> list[str]:
    response = await client.get(f"/v1/orgs/{org.id}/audit", headers=org.admin.headers)
    assert response.status_code == 200, response.text
    return [e["action"] for e in response.json()["items"]]


async def usage(client: httpx.AsyncClient, org: Org) -> dict[str, Any]:
    return dict((await client.get(f"/v1/orgs/{org.id}/usage", headers=org.admin.headers)).json())


async def test_templates_save_instantiate_export_import(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        name="Source", nodes=[node("a"), node("b")], edges=[edge("a", "b")]
    )
    url = f"/v1/orgs/{org.id}/templates"
    h = org.admin.headers
    storage_before = (await usage(client, org))["storage"]["used"]
    created = await client.post(
        url,
        json={"flowId": flow["id"], "name": "Pair", "description": "two nodes", "tags": ["etl"]},
        headers=h,
    )
    assert created.status_code == 201, created.text
    template = created.json()
    assert template["id"].startswith("tpl_") and template["sourceFlowId"] == flow["id"]
    assert (template["nodeCount"], template["edgeCount"], template["tags"]) == (2, 1, ["etl"])
    assert [n["id"] for n in template["nodes"]] == ["a", "b"]
    assert (await usage(client, org))["storage"]["used"] > storage_before
    inline = await client.post(
        url, json={"flow": {"nodes": [node("x")], "edges": []}, "name": "One"}, headers=h
    )
    assert inline.status_code == 201, inline.text
    listed = (await client.get(url, headers=h)).json()["items"]
    assert [t["id"] for t in listed] == [inline.json()["id"], template["id"]]
    assert "nodes" not in listed[0]

    made = await client.post(f"{url}/{template['id']}/instantiate", json={"name": "New"}, headers=h)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "New" and made.json()["version"] == 1
    assert [n["id"] for n in made.json()["nodes"]] == ["a", "b"]
    assert made.json()["id"] != flow["id"]

    exported = await client.get(f"{url}/{template['id']}/export", headers=h)
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    file = exported.json()
    assert (file["format"], file["formatVersion"], file["name"]) == ("minibase-template", 1, "Pair")

    other = await new_org(client)
    imported = await client.post(
        f"/v1/orgs/{other.id}/templates/import", json=file, headers=other.admin.headers
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["nodes"] == template["nodes"] and imported.json()["tags"] == ["etl"]
    for bad in (
        {**file, "format": "zip"},
        {**file, "formatVersion": 2},
        {**file, "nodes": [{"id": "a"}]},
        {**file, "edges": [edge("a", "zz")]},
        {**file, "name": ""},
    ):
        assert_error(
            await client.post(
                f"/v1/orgs/{other.id}/templates/import", json=bad, headers=other.admin.headers
            ),
            422,
            "validation_error",
        )
    for bad_body in (
        {"name": "x"},
        {"name": "x", "flowId": flow["id"], "flow": {}},
        {"flowId": flow["id"]},
    ):
        assert_error(await client.post(url, json=bad_body, headers=h), 422, "validation_error")
    assert_error(
        await client.post(url, json={"name": "x", "flowId": "flow_nope"}, headers=h),
        404,
        "not_found",
    )

    viewer = await add_member(client, org.admin, org.id, "viewer")
    assert (await client.get(f"{url}/{template['id']}", headers=viewer.headers)).status_code == 200
    assert_error(
        await client.delete(f"{url}/{template['id']}", headers=viewer.headers), 403, "forbidden"
    )
    assert (await client.delete(f"{url}/{template['id']}", headers=h)).status_code == 204
    assert_error(await client.get(f"{url}/{template['id']}", headers=h), 404, "not_found")
    assert {"template.create", "template.delete"} <= set(await audit_actions(client, org))


async def test_copy_flow_across_orgs(client: httpx.AsyncClient) -> None:
    source = await new_org(client)
    flow = await source.create_flow(
        name="Mine", nodes=[node("a", type_="http"), node("b")], edges=[edge("a", "b")]
    )
    target_id = (
        await client.post("/v1/orgs", json={"name": "Other"}, headers=source.admin.headers)
    ).json()["id"]
    target = Org(id=target_id, admin=source.admin, client=client)

    copied = await client.post(
        f"{source.flows_url}/{flow['id']}/copy",
        json={"targetOrgId": target.id, "name": "Theirs"},
        headers=source.admin.headers,
    )
    assert copied.status_code == 201, copied.text
    body = copied.json()
    assert body["organizationId"] == target.id and body["name"] == "Theirs"
    assert body["id"] != flow["id"] and [n["id"] for n in body["nodes"]] == ["a", "b"]
    assert "flow.copy_out" in await audit_actions(client, source)
    assert {"flow.copy_in", "flow.create"} <= set(await audit_actions(client, target))

    # The target's node types apply ...
    await target.patch_settings(allowedNodeTypes=["default"])
    refused = await client.post(
        f"{source.flows_url}/{flow['id']}/copy",
        json={"targetOrgId": target.id},
        headers=source.admin.headers,
    )
    assert_error(refused, 403, "quota_exceeded")
    assert refused.json()["error"]["details"]["quota"] == "allowedNodeTypes"
    # ... and its quotas.
    await target.patch_settings(allowedNodeTypes=None, maxNodes=3)
    refused = await client.post(
        f"{source.flows_url}/{flow['id']}/copy",
        json={"targetOrgId": target.id},
        headers=source.admin.headers,
    )
    assert_error(refused, 403, "quota_exceeded")
    assert refused.json()["error"]["details"]["quota"] == "maxNodes"

    # Not a member of the target: 404; a viewer there: 403; an API key: 404.
    stranger_org = await new_org(client)
    assert_error(
        await client.post(
            f"{source.flows_url}/{flow['id']}/copy",
            json={"targetOrgId": stranger_org.id},
            headers=source.admin.headers,
        ),
        404,
        "not_found",
    )
    viewer_there = await add_member(client, stranger_org.admin, stranger_org.id, "viewer")
    await add_member_existing(client, source, viewer_there.email, "editor")
    assert_error(
        await client.post(
            f"{source.flows_url}/{flow['id']}/copy",
            json={"targetOrgId": stranger_org.id},
            headers=viewer_there.headers,
        ),
        403,
        "forbidden",
    )


async def add_member_existing(client: httpx.AsyncClient, org: Org, email: str, role: str) -> None:
    """Invite an existing account's address and accept as that user (by logging in)."""
    from tests.helpers import PASSWORD

    invitation = await client.post(
        f"/v1/orgs/{org.id}/invitations",
        json={"email": email, "role": role},
        headers=org.admin.headers,
    )
    login = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    accepted = await client.post(
        "/v1/invitations/accept",
        json={"token": invitation.json()["token"]},
        headers={"Authorization": f"Bearer {login.json()['token']}"},
    )
    assert accepted.status_code == 200, accepted.text


async def test_paste_remaps_ids_and_respects_the_target(client: httpx.AsyncClient) -> None:
    source = await new_org(client)
    src_flow = await source.create_flow(nodes=[node("a"), node("b")], edges=[edge("a", "b")])
    target_id = (
        await client.post("/v1/orgs", json={"name": "T"}, headers=source.admin.headers)
    ).json()["id"]
    target = Org(id=target_id, admin=source.admin, client=client)
    dest = await target.create_flow(nodes=[node("a")])
    url = f"/v1/orgs/{target.id}/clipboard/paste"
    pasted = await client.post(
        url,
        json={
            "targetFlowId": dest["id"],
            "nodes": [node("a", 10, 10), node("b")],
            "edges": [edge("a", "b"), edge("a", "zz", "dangling")],
            "sourceOrgId": source.id,
            "sourceFlowId": src_flow["id"],
        },
        headers=source.admin.headers,
    )
    assert pasted.status_code == 200, pasted.text
    result = pasted.json()
    assert result["idMap"]["nodes"] == {"a": "a-copy", "b": "b"}
    assert result["skippedEdges"] == ["dangling"]
    assert result["flow"]["version"] == 2
    assert [n["id"] for n in result["flow"]["nodes"]] == ["a", "a-copy", "b"]
    (new_edge,) = result["flow"]["edges"]
    assert (new_edge["source"], new_edge["target"]) == ("a-copy", "b")
    assert "flow.paste_in" in await audit_actions(client, target)
    assert "flow.paste_out" in await audit_actions(client, source)

    await target.patch_settings(allowedNodeTypes=["default"])
    typed = await client.post(
        url,
        json={"targetFlowId": dest["id"], "nodes": [node("q", type_="http")], "edges": []},
        headers=source.admin.headers,
    )
    assert_error(typed, 403, "quota_exceeded")
    for bad in (
        {"targetFlowId": dest["id"], "nodes": [{"type": "x"}], "edges": []},
        {"targetFlowId": dest["id"], "nodes": "x", "edges": []},
        {"nodes": [], "edges": []},
    ):
        assert_error(
            await client.post(url, json=bad, headers=source.admin.headers), 422, "validation_error"
        )
    assert_error(
        await client.post(
            url,
            json={"targetFlowId": "flow_nope", "nodes": [], "edges": []},
            headers=source.admin.headers,
        ),
        404,
        "not_found",
    )


async def test_paste_called_on_the_source_org(client: httpx.AsyncClient) -> None:
    """The contract's reading of ``/v1/orgs/{orgId}/clipboard/paste`` as for ``.../copy``:
    the path names the org the selection comes from, ``targetFlowId`` a flow of another
    org of the caller (found by its id, or named by ``targetOrgId``)."""
    source = await new_org(client)
    target = await new_org(client)
    await add_member_existing(client, target, source.admin.email, "editor")
    dest = await target.create_flow(nodes=[node("a")])
    url = f"/v1/orgs/{source.id}/clipboard/paste"
    selection = {"nodes": [node("a"), node("b")], "edges": [edge("a", "b")]}
    pasted = await client.post(
        url, json={"targetFlowId": dest["id"], **selection}, headers=source.admin.headers
    )
    assert pasted.status_code == 200, pasted.text
    assert pasted.json()["idMap"]["nodes"] == {"a": "a-copy", "b": "b"}
    assert pasted.json()["flow"]["version"] == 2
    assert "flow.paste_in" in await audit_actions(client, target)
    assert "flow.paste_out" in await audit_actions(client, source)
    named = await client.post(
        url,
        json={"targetFlowId": dest["id"], "targetOrgId": target.id, **selection},
        headers=source.admin.headers,
    )
    assert named.status_code == 200, named.text
    assert named.json()["idMap"]["nodes"] == {"a": "a-copy-2", "b": "b-copy"}

    # The target's rules apply; the path org must be the source then.
    await target.patch_settings(maxNodes=5)
    over = await client.post(
        url, json={"targetFlowId": dest["id"], **selection}, headers=source.admin.headers
    )
    assert_error(over, 403, "quota_exceeded")
    assert over.json()["error"]["details"]["quota"] == "maxNodes"
    conflicting = {"targetFlowId": dest["id"], "sourceOrgId": target.id, **selection}
    assert_error(
        await client.post(url, json=conflicting, headers=source.admin.headers),
        422,
        "validation_error",
    )
    # A viewer of the target: 403; a flow of an org one is not in: 404, as a random id.
    viewer = await add_member(client, source.admin, source.id, "editor")
    await add_member_existing(client, target, viewer.email, "viewer")
    assert_error(
        await client.post(
            url, json={"targetFlowId": dest["id"], **selection}, headers=viewer.headers
        ),
        403,
        "forbidden",
    )
    outsider = await add_member(client, source.admin, source.id, "editor")
    for body in (
        {"targetFlowId": dest["id"]},
        {"targetFlowId": dest["id"], "targetOrgId": target.id},
        {"targetFlowId": "flow_nope"},
    ):
        assert_error(
            await client.post(url, json={**body, **selection}, headers=outsider.headers),
            404,
            "not_found",
        )
