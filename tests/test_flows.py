"""Flows: CRUD, validation, saves with three-way merge, PATCH ops, trash."""

from __future__ import annotations

import httpx
import orjson

from tests.flows_helpers import edge, new_org, node
from tests.test_http_basics import assert_error


async def test_create_get_list_keep_unknown_fields(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    nodes = [node("a", 1.5, 2, extra={"z": 1, "a": [1, 2]}, hidden=True), node("b", 3, 4)]
    edges = [{**edge("a", "b"), "sourceHandle": "out", "animated": True, "data": {"w": 1}}]
    flow = await org.create_flow("My flow", nodes, edges)
    assert flow["id"].startswith("flow_")
    assert flow["organizationId"] == org.id
    assert flow["version"] == 1
    assert flow["createdBy"] == org.admin.id
    assert flow["nodes"] == nodes and flow["edges"] == edges
    assert isinstance(flow["lastModified"], int)

    got = await client.get(f"{org.flows_url}/{flow['id']}", headers=org.admin.headers)
    assert got.status_code == 200
    assert got.headers["etag"] == '"1"'
    assert got.json() == flow
    # Key order of unknown fields is kept byte for byte.
    assert b'"extra":{"z":1,"a":[1,2]}' in got.content

    listed = (await client.get(org.flows_url, headers=org.admin.headers)).json()
    assert listed["items"] == [
        {
            "id": flow["id"],
            "name": "My flow",
            "version": 1,
            "lastModified": flow["lastModified"],
            "createdBy": org.admin.id,
            "nodeCount": 2,
            "edgeCount": 1,
        }
    ]
    assert listed["nextCursor"] is None


async def test_list_pagination_is_stable(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    ids = [(await org.create_flow(f"f{i}"))["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(org.flows_url, params=params, headers=org.admin.headers)).json()
        seen += [f["id"] for f in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ids
    assert_error(
        await client.get(org.flows_url, params={"cursor": "garbage!"}, headers=org.admin.headers),
        422,
        "validation_error",
    )
    assert_error(
        await client.get(org.flows_url, params={"limit": 501}, headers=org.admin.headers),
        422,
        "validation_error",
    )


async def test_validation_errors_list_fields(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    bad = await client.post(
        org.flows_url,
        headers=org.admin.headers,
        json={
            "name": "x",
            "nodes": [
                {"id": "a", "type": "t", "position": {"x": "1", "y": 0}},
                {"id": "a", "type": "t", "position": {"x": 0, "y": 0}},
            ],
            "edges": [{"id": "e", "source": "a", "target": "missing"}],
        },
    )
    assert_error(bad, 422, "validation_error")
    fields = {f["field"] for f in bad.json()["error"]["details"]["fields"]}
    assert "nodes[0].position.x" in fields
    assert "edges[0].target" in fields
    assert any(f.startswith("nodes[1]") for f in fields)
    assert_error(
        await client.post(
            org.flows_url,
            headers=org.admin.headers,
            content=b"[1,",
        ),
        400,
        "bad_request",
    )
    assert_error(
        await client.post(org.flows_url, headers=org.admin.headers, json=[1]),
        422,
        "validation_error",
    )


async def test_put_requires_base_version_and_merges(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a"), node("b", 10, 10)], [edge("a", "b")])
    url = f"{org.flows_url}/{flow['id']}"
    h = org.admin.headers

    assert_error(
        await client.put(url, json={"nodes": [], "edges": []}, headers=h),
        428,
        "precondition_required",
    )
    assert_error(
        await client.put(url, json={"nodes": [], "edges": [], "baseVersion": 9}, headers=h),
        409,
        "version_conflict",
    )

    # Client 1 adds node c and moves a (base 1 -> v2).
    r1 = await client.put(
        url,
        headers=h,
        json={
            "baseVersion": 1,
            "nodes": [node("a", 100, 100), node("b", 10, 10), node("c")],
            "edges": [edge("a", "b")],
        },
    )
    assert r1.status_code == 200, r1.text
    assert r1.json()["version"] == 2 and r1.json()["conflicts"] == []
    # Client 2, still on base 1, adds node d and moves a elsewhere: merged, request wins.
    r2 = await client.put(
        url,
        headers=h,
        json={
            "baseVersion": 1,
            "nodes": [node("a", 5, 5), node("b", 10, 10), node("d")],
            "edges": [edge("a", "b")],
        },
    )
    assert r2.status_code == 200, r2.text
    body = r2.json()
    assert body["version"] == 3
    assert {n["id"] for n in body["nodes"]} == {"a", "b", "c", "d"}
    a = next(n for n in body["nodes"] if n["id"] == "a")
    assert a["position"] == {"x": 5, "y": 5}
    assert [c["id"] for c in body["conflicts"]] == ["a"]
    assert r2.headers["etag"] == '"3"'


async def test_merge_drops_dangling_edges(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a"), node("b")], [])
    url = f"{org.flows_url}/{flow['id']}"
    h = org.admin.headers
    # One side deletes b; the other, from the same base, adds an edge a -> b.
    await client.put(url, headers=h, json={"baseVersion": 1, "nodes": [node("a")], "edges": []})
    r = await client.put(
        url,
        headers=h,
        json={"baseVersion": 1, "nodes": [node("a"), node("b")], "edges": [edge("a", "b")]},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["edges"] == []
    assert body["droppedEdges"] == ["e-a-b"]


async def test_patch_ops_are_atomic(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a"), node("b")], [edge("a", "b")])
    url = f"{org.flows_url}/{flow['id']}"
    h = org.admin.headers
    ok = await client.patch(
        url,
        headers=h,
        json={
            "ops": [
                {"op": "addNode", "node": node("c")},
                {"op": "addEdge", "edge": edge("b", "c")},
                {"op": "updateNode", "id": "a", "set": {"position": {"x": 9, "y": 9}}},
                {"op": "removeNode", "id": "b"},
                {"op": "rename", "name": "Renamed"},
            ]
        },
    )
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["version"] == 2 and body["name"] == "Renamed"
    assert [n["id"] for n in body["nodes"]] == ["a", "c"]
    assert body["edges"] == []  # removing b removed both of its edges
    bad = await client.patch(
        url,
        headers=h,
        json={
            "ops": [
                {"op": "addNode", "node": node("d")},
                {"op": "removeEdge", "id": "nope"},
            ]
        },
    )
    assert_error(bad, 422, "validation_error")
    after = (await client.get(url, headers=h)).json()
    assert after["version"] == 2 and "d" not in {n["id"] for n in after["nodes"]}


async def test_delete_trash_and_restore(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    url = f"{org.flows_url}/{flow['id']}"
    h = org.admin.headers
    await client.post(
        f"{url}/outputs", headers=h, json={"nodeId": "a", "output": {"v": 1}, "computeTime": 3}
    )
    assert (await client.delete(url, headers=h)).status_code == 204
    assert_error(await client.get(url, headers=h), 404, "not_found")
    assert (await client.get(org.flows_url, headers=h)).json()["items"] == []
    trash = (await client.get(org.flows_url, params={"deleted": "true"}, headers=h)).json()
    assert [f["id"] for f in trash["items"]] == [flow["id"]]
    usage = (await client.get(f"/v1/orgs/{org.id}/usage", headers=h)).json()
    assert usage["flows"]["used"] == 0 and usage["nodes"]["used"] == 0

    restored = await client.post(f"{url}/restore", headers=h)
    assert restored.status_code == 200, restored.text
    assert restored.json()["nodes"] == [node("a")]
    outs = (await client.get(f"{url}/outputs", headers=h)).json()
    assert outs["items"] == []  # outputs went with the deletion
    assert_error(await client.post(f"{url}/restore", headers=h), 404, "not_found")


async def test_saves_keep_every_entity_exactly_as_sent(client: httpx.AsyncClient) -> None:
    """Untouched entities are shared with the stored version internally; any byte of
    difference (1.0 for 1, true for 1, another key order) must still be stored as sent."""
    org = await new_org(client)
    h = org.admin.headers
    first = {**node("a"), "data": {"v": 1}}
    flow = await org.create_flow("F", [first, node("b")], [edge("a", "b")])
    url = f"{org.flows_url}/{flow['id']}"

    async def put_raw(raw: bytes) -> httpx.Response:
        headers = {**h, "content-type": "application/json"}
        response = await client.put(url, content=raw, headers=headers)
        assert response.status_code == 200, response.text
        return response

    b_json = b'{"id":"b","type":"default","position":{"x":0,"y":0},"data":{"label":"b"}}'
    e_json = b'{"id":"e-a-b","source":"a","target":"b"}'
    for version, a_json in enumerate(
        [
            b'{"id":"a","type":"default","position":{"x":0,"y":0},"data":{"v":1.0}}',
            b'{"id":"a","type":"default","position":{"x":0,"y":0},"data":{"v":true}}',
            b'{"type":"default","id":"a","data":{"v":true},"position":{"y":0,"x":0}}',
        ],
        start=1,
    ):
        await put_raw(
            b'{"baseVersion":%d,"nodes":[%s,%s],"edges":[%s]}' % (version, a_json, b_json, e_json)
        )
        got = await client.get(url, headers=h)
        assert b'"nodes":[' + a_json + b"," + b_json + b"]" in got.content
        assert got.json()["version"] == version + 1

    # A stale save: the server moved b meanwhile; the request reorders a's keys only.
    moved = b'{"id":"b","type":"default","position":{"x":7,"y":0},"data":{"label":"b"}}'
    await put_raw(b'{"baseVersion":4,"nodes":[%s,%s],"edges":[%s]}' % (a_json, moved, e_json))
    reordered_a = b'{"id":"a","type":"default","data":{"v":true},"position":{"y":0,"x":0}}'
    response = await put_raw(
        b'{"baseVersion":4,"nodes":[%s,%s],"edges":[%s]}' % (reordered_a, b_json, e_json)
    )
    assert response.json()["conflicts"] == []
    got = await client.get(url, headers=h)
    assert b'"nodes":[' + reordered_a + b"," + moved + b"]" in got.content
    versions = (await client.get(f"{url}/versions", headers=h)).json()["items"]
    assert versions[0]["summary"] == {
        "nodesAdded": 0,
        "nodesRemoved": 0,
        "nodesChanged": 0,  # a key order is no change to the diff
        "edgesAdded": 0,
        "edgesRemoved": 0,
        "edgesChanged": 0,
    }
    assert versions[1]["summary"]["nodesChanged"] == 1


async def test_unchanged_entities_are_still_checked_against_the_rest(
    client: httpx.AsyncClient,
) -> None:
    org = await new_org(client)
    h = org.admin.headers
    flow = await org.create_flow("F", [node("a"), node("b")], [edge("a", "b")])
    url = f"{org.flows_url}/{flow['id']}"
    # The edge is byte for byte the stored one, but its target is gone.
    dangling = await client.put(
        url, headers=h, json={"baseVersion": 1, "nodes": [node("a")], "edges": [edge("a", "b")]}
    )
    assert_error(dangling, 422, "validation_error")
    fields = dangling.json()["error"]["details"]["fields"]
    assert [f["field"] for f in fields] == ["edges[0].target"]
    # A copy of a stored node is a duplicate, however valid on its own.
    twice = await client.put(
        url,
        headers=h,
        json={"baseVersion": 1, "nodes": [node("a"), node("b"), node("a")], "edges": []},
    )
    assert_error(twice, 422, "validation_error")
    assert [f["type"] for f in twice.json()["error"]["details"]["fields"]] == ["duplicate_id"]
    current = (await client.get(url, headers=h)).json()
    assert current["version"] == 1


async def test_bodies_read_against_the_cached_version_answer_as_parsed_ones(
    client: httpx.AsyncClient,
) -> None:
    """A save's body is read against the cached version it edits (domain/flow_reader):
    invalid JSON, odd keys and other formatting must answer exactly as a full parse."""
    org = await new_org(client)
    h = {**org.admin.headers, "content-type": "application/json"}
    flow = await org.create_flow("F", [node("a"), node("b")], [edge("a", "b")])
    url = f"{org.flows_url}/{flow['id']}"
    a = b'{"id":"a","type":"default","position":{"x":0,"y":0},"data":{"label":"a"}}'
    b = b'{"id":"b","type":"default","position":{"x":0,"y":0},"data":{"label":"b"}}'
    e = b'{"id":"e-a-b","source":"a","target":"b"}'
    moved_b = b.replace(b'"x":0', b'"x":5')
    saved = await client.put(
        url, headers=h, content=b'{"baseVersion":1,"nodes":[%s,%s],"edges":[%s]}' % (a, moved_b, e)
    )
    assert saved.status_code == 200, saved.text  # version 2, cached as indexed
    for broken in (
        b'{"baseVersion":2,"nodes":[%s,%s,],"edges":[%s]}' % (a, b, e),
        b'{"baseVersion":2,"nodes":[%s,%s],"edges":[%s]}' % (a, b.replace(b"0", b"NaN"), e),
        b'{"baseVersion":2,"nodes":[%s,%s],"edges":[%s]' % (a, moved_b, e),
        b'{"baseVersion":2,"nodes":[%s%s],"edges":[%s]}' % (a, moved_b, e),
        b'{"baseVersion":2,"nodes":[%s,%s],"edges":[%s]} x' % (a, moved_b, e),
    ):
        assert_error(await client.put(url, headers=h, content=broken), 400, "bad_request")
    assert (await client.get(url, headers=h)).json()["version"] == 2

    # A "nodes" key nested in an edge, ahead of the real one, is data like any other.
    nested_e = b'{"id":"e-a-b","source":"a","target":"b","data":{"nodes":[%s]}}' % a
    body = b'{"baseVersion":2,"edges":[%s],"nodes":[%s,%s]}' % (nested_e, a, moved_b)
    response = await client.put(url, headers=h, content=body)
    assert response.status_code == 200, response.text
    got = await client.get(url, headers=h)
    assert b'"nodes":[%s,%s],"edges":[%s]' % (a, moved_b, nested_e) in got.content

    # A repeated key: the last one counts, as in any JSON parse.
    twice = b'{"baseVersion":3,"nodes":[%s,%s],"edges":[],"nodes":[%s]}' % (a, moved_b, a)
    response = await client.put(url, headers=h, content=twice)
    assert response.status_code == 200, response.text
    assert [n["id"] for n in response.json()["nodes"]] == ["a"]

    # Pretty-printed: parsed in full, same result.
    pretty = orjson.dumps(
        {"baseVersion": 4, "nodes": [orjson.loads(a), orjson.loads(b)], "edges": []},
        option=orjson.OPT_INDENT_2,
    )
    response = await client.put(url, headers=h, content=pretty)
    assert response.status_code == 200, response.text
    assert response.json()["nodes"] == [orjson.loads(a), orjson.loads(b)]


async def test_saves_check_the_type_of_added_and_retyped_nodes_only(
    client: httpx.AsyncClient,
) -> None:
    org = await new_org(client)
    h = org.admin.headers
    flow = await org.create_flow("F", [node("a"), node("b")])
    await org.patch_settings(allowedNodeTypes=["llm"])  # a and b predate the rule
    url = f"{org.flows_url}/{flow['id']}"

    async def put(version: int, nodes: list[dict[str, object]]) -> httpx.Response:
        return await client.put(
            url, headers=h, json={"baseVersion": version, "nodes": nodes, "edges": []}
        )

    kept = await put(1, [node("a", 5), node("b")])
    assert kept.status_code == 200, kept.text
    for refused in (
        [node("a", 5), node("b", type_="shell")],  # re-typed in place
        [node("b", type_="shell"), node("a", 5)],  # re-typed and moved
        [node("a", 5), node("b"), node("c", type_="shell")],  # added
    ):
        response = await put(2, refused)
        assert_error(response, 403, "quota_exceeded")
        assert response.json()["error"]["details"]["quota"] == "allowedNodeTypes"
    assert (await put(2, [node("a", 5), node("b", type_="llm")])).status_code == 200


async def test_patch_checks_what_its_ops_make(client: httpx.AsyncClient) -> None:
    """The untouched entities are the stored version's, trusted; every one an op made or
    changed is validated, and so is the place of each in the new document."""
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a"), node("b")], [edge("a", "b")])
    url = f"{org.flows_url}/{flow['id']}"
    h = org.admin.headers
    for ops in (
        [{"op": "updateNode", "id": "a", "set": {"position": "nowhere"}}],
        [{"op": "addNode", "node": {**node("c"), "position": {"x": "left", "y": 0}}}],
        [{"op": "addEdge", "edge": edge("a", "ghost")}],
        [{"op": "rename", "name": 42}],
    ):
        bad = await client.patch(url, headers=h, json={"ops": ops})
        assert_error(bad, 422, "validation_error")
    after = (await client.get(url, headers=h)).json()
    assert after["version"] == 1
    good = await client.patch(
        url, headers=h, json={"ops": [{"op": "updateNode", "id": "b", "set": {"type": "t2"}}]}
    )
    assert good.status_code == 200 and good.json()["version"] == 2
