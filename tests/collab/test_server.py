"""The collab endpoint over a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pycrdt import Map
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from minibase.collab import protocol
from minibase.collab.room import Room
from minibase.domain.roles import Role
from minibase.store.collab_log import CollabStore
from tests.collab.conftest import CollabServer
from tests.collab.fakes import create_flow, edge, node
from tests.collab.yclient import YClient

FLOW = {"name": "Demo", "nodes": [node("a"), node("b", 100, 0)], "edges": [edge("e1", "a", "b")]}


def canon(flow: dict[str, Any]) -> dict[str, Any]:
    """A flow with its entries sorted by id (a client's own view has arrival order)."""
    return {
        **flow,
        "nodes": sorted(flow["nodes"], key=lambda n: n["id"]),
        "edges": sorted(flow["edges"], key=lambda e: e["id"]),
    }


def ids(flow: dict[str, Any], key: str) -> list[str]:
    return [entry["id"] for entry in flow[key]]


async def _setup(collab: CollabServer, flow: dict[str, Any] | None = None) -> tuple[str, str]:
    return await create_flow(collab.store, collab.bridge, flow or FLOW)


async def test_seeded_from_rest_and_two_editors_converge(collab: CollabServer) -> None:
    org, flow = await _setup(collab)
    collab.authorizer.add("t1", org)
    collab.authorizer.add("t2", org)
    async with (
        YClient(collab.url(org, flow, "t1")) as c1,
        YClient(collab.url(org, flow, "t2")) as c2,
    ):
        assert canon(c1.materialize()) == canon(FLOW)
        assert isinstance(c1.nodes["a"], Map) and isinstance(c1.nodes["a"]["data"], Map)
        c1.nodes["c"] = Map({"id": "c", "type": "default", "position": {"x": 5, "y": 5}})
        c2.nodes["a"]["position"] = {"x": 42, "y": 1}
        done = lambda: "c" in c2.nodes and c1.nodes["a"]["position"]["x"] == 42  # noqa: E731
        await c1.wait_for(done)
        await c2.wait_for(done)
        assert canon(c1.materialize()) == canon(c2.materialize())
        server_flow = await collab.manager.materialized(org, flow)
        assert server_flow == canon(c1.materialize())
    await asyncio.wait_for(collab.bridge.changed.wait(), 5)
    assert ids(collab.bridge.flows[(org, flow)], "nodes") == ["a", "b", "c"]


async def test_updates_are_stored_before_broadcast_and_survive_reload(
    collab: CollabServer,
) -> None:
    org, flow = await _setup(collab)
    collab.authorizer.add("t", org)
    async with YClient(collab.url(org, flow, "t")) as c1, YClient(collab.url(org, flow, "t")) as c2:
        c1.nodes["n"] = Map({"id": "n", "type": "default", "position": {"x": 1, "y": 2}})
        await c2.wait_for(lambda: "n" in c2.nodes)
        # c2 saw it, so it is in the log already.
        stored = await CollabStore(collab.store).load(org, flow)
        assert stored.last_seq >= 2
    # Unload (delay 0.05 s), then a new room loads snapshot + log.
    for _ in range(100):
        if collab.manager.loaded(org, flow) is None:
            break
        await asyncio.sleep(0.02)
    assert collab.manager.loaded(org, flow) is None
    collab.bridge.flows[(org, flow)]["nodes"] = []  # the REST copy must not be re-seeded
    async with YClient(collab.url(org, flow, "t")) as c3:
        assert set(c3.nodes.keys()) == {"a", "b", "n"}


async def test_viewer_updates_are_refused_and_socket_stays_open(collab: CollabServer) -> None:
    org, flow = await _setup(collab)
    collab.authorizer.add("ed", org)
    collab.authorizer.add("vw", org, role=Role.VIEWER)
    async with (
        YClient(collab.url(org, flow, "ed")) as editor,
        YClient(collab.url(org, flow, "vw")) as viewer,
    ):
        viewer.nodes["x"] = Map({"id": "x", "type": "default", "position": {"x": 0, "y": 0}})
        viewer.nodes["y"] = Map({"id": "y", "type": "default", "position": {"x": 0, "y": 0}})
        await viewer.wait_for(lambda: bool(viewer.denied))
        assert viewer.denied == ["read-only"]
        # Still connected: it receives the editor's edits.
        editor.nodes["a"]["type"] = "special"
        await viewer.wait_for(lambda: viewer.nodes["a"]["type"] == "special")
        assert "x" not in editor.nodes
        assert "x" not in (await collab.manager.materialized(org, flow))["nodes"]
        await viewer.round_trip()
        assert viewer.denied == ["read-only"]


async def test_rule_violation_is_compensated_and_author_told(collab: CollabServer) -> None:
    org, flow = await _setup(collab)
    collab.authorizer.add("t", org, allowed_node_types=frozenset({"default"}), max_nodes=3)
    async with (
        YClient(collab.url(org, flow, "t")) as author,
        YClient(collab.url(org, flow, "t")) as other,
    ):
        with author.doc.transaction():
            author.nodes["ok"] = Map({"id": "ok", "type": "default", "position": {"x": 1, "y": 1}})
            author.nodes["bad"] = Map({"id": "bad", "type": "evil", "position": {"x": 1, "y": 1}})
            author.nodes["nopos"] = Map({"id": "nopos", "type": "default"})
            author.edges["dangling"] = {"id": "dangling", "source": "a", "target": "ghost"}
        await author.wait_for(lambda: bool(author.notifications))
        await other.wait_for(lambda: "ok" in other.nodes)
        note = author.notifications[0]
        assert note["type"] == "rule_violation"
        removed = {(r["kind"], r["id"], r["reason"]) for r in note["removed"]}
        assert removed == {
            ("node", "bad", "node_type_not_allowed"),
            ("node", "nopos", "malformed"),
            ("edge", "dangling", "missing_node"),
        }
        for client in (author, other):
            await client.wait_for(lambda c=client: "bad" not in c.nodes)
            assert set(client.nodes.keys()) == {"a", "b", "ok"}
            assert set(client.edges.keys()) == {"e1"}
        assert not other.notifications
        # The fourth node is over max_nodes=3 ... wait: a, b, ok = 3 already.
        author.nodes["late"] = Map({"id": "late", "type": "default", "position": {"x": 0, "y": 0}})
        await author.wait_for(lambda: len(author.notifications) == 2)
        assert author.notifications[1]["removed"] == [
            {"kind": "node", "id": "late", "reason": "max_nodes"}
        ]
        await other.wait_for(lambda: "late" not in other.nodes)


async def test_awareness_relayed_to_all_and_removed_on_leave(collab: CollabServer) -> None:
    org, flow = await _setup(collab)
    collab.authorizer.add("t", org)
    async with YClient(collab.url(org, flow, "t")) as c1:
        c2 = YClient(collab.url(org, flow, "t"))
        await c2.connect()
        state = protocol.encode_awareness_update([protocol.AwarenessEntry(777, 1, '{"user":"b"}')])
        await c2.send(protocol.awareness_message(state))
        await c1.wait_for(lambda: 777 in c1.awareness)
        await c2.wait_for(lambda: 777 in c2.awareness)  # the sender too
        c3 = YClient(collab.url(org, flow, "t"))
        await c3.connect()
        await c3.wait_for(lambda: 777 in c3.awareness)  # sent on join
        await c2.close()
        await c1.wait_for(lambda: 777 not in c1.awareness)
        await c3.close()


@pytest.mark.parametrize(
    ("token", "path", "code"),
    [("nope", "ok", 4401), ("t", "other-org", 4404), ("t", "missing-flow", 4404)],
)
async def test_refusals_are_close_codes(
    collab: CollabServer, token: str, path: str, code: int
) -> None:
    org, flow = await _setup(collab)
    collab.authorizer.add("t", org)
    if path == "other-org":
        _, flow2 = await create_flow(collab.store, collab.bridge, FLOW)
        url = collab.url(org, flow2, token)
    elif path == "missing-flow":
        url = collab.url(org, "flow_missing", token)
    else:
        url = collab.url(org, flow, token)
    async with connect(url) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == code


async def test_forbidden_is_4403(collab: CollabServer) -> None:
    org, flow = await _setup(collab)
    collab.authorizer.add("t", org)
    collab.authorizer.tokens["t"].banned = True
    async with connect(collab.url(org, flow, "t")) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 4403


async def test_malformed_frame_closes_only_that_socket(collab: CollabServer) -> None:
    org, flow = await _setup(collab)
    collab.authorizer.add("t", org)
    async with YClient(collab.url(org, flow, "t")) as good:
        async with connect(collab.url(org, flow, "t")) as bad:
            await bad.send(b"\x00\x07\x01")
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(bad.recv(), 5)
            assert bad.close_code == 1002
        async with connect(collab.url(org, flow, "t")) as bad2:
            await bad2.send(protocol.sync_update(b"\x01\x02\x03"))
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(bad2.recv(), 5)
            assert bad2.close_code == 1002
        still = Map({"id": "still", "type": "default", "position": {"x": 0, "y": 0}})
        await good.edit(lambda: good.nodes.__setitem__("still", still))
        assert "still" in (await collab.manager.materialized(org, flow))["nodes"][-1]["id"]


async def test_after_the_handshake_frames_reach_the_room_where_they_are_parsed(
    collab: CollabServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the first message, a socket's binary frames go to its room inside the
    server's protocol callback (no task: not through the ASGI queue), in order; a bad one
    still closes just that socket with 1002, and a text frame with 1003, and either
    socket leaves the room."""
    org, flow = await _setup(collab)
    collab.authorizer.add("t", org)
    tasks: list[asyncio.Task[Any] | None] = []
    receive = Room.receive

    def spy(room: Room, client: Any, frame: bytes) -> None:
        tasks.append(asyncio.current_task())
        receive(room, client, frame)

    monkeypatch.setattr(Room, "receive", spy)
    async with YClient(collab.url(org, flow, "t")) as editor:
        for i in range(5):
            editor.nodes[f"d{i}"] = Map(
                {"id": f"d{i}", "type": "default", "position": {"x": i, "y": 0}}
            )
        await editor.edit(lambda: editor.nodes["a"].__setitem__("position", {"x": 9, "y": 9}))
        flow_now = await collab.manager.materialized(org, flow)
        assert {f"d{i}" for i in range(5)} <= set(ids(flow_now, "nodes"))
        assert tasks[0] is not None  # the first message: the endpoint's task, via ASGI
        assert tasks[-1] is None and tasks.count(None) >= 6
        room = collab.manager.loaded(org, flow)
        assert room is not None
        for bad, code in [(b"\x00\x07\x01", 1002), ("text", 1003)]:
            async with connect(collab.url(org, flow, "t"), compression=None) as ws:
                await ws.send(protocol.sync_step1(b"\x00"))
                await asyncio.wait_for(ws.recv(), 5)
                await asyncio.wait_for(ws.recv(), 5)  # step 1 and step 2: synced
                await ws.send(protocol.sync_update(b"\x00\x00"))  # an empty update: direct
                await ws.send(bad)
                with pytest.raises(ConnectionClosed):
                    while True:
                        await asyncio.wait_for(ws.recv(), 5)
                assert ws.close_code == code
            async with asyncio.timeout(5):
                # The room has no event for a client leaving: poll, bounded.
                while len(room.clients) > 1:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        await editor.edit(lambda: editor.nodes["a"].__setitem__("position", {"x": 1, "y": 1}))


async def test_rest_write_reaches_editors(collab: CollabServer) -> None:
    org, flow = await _setup(collab)
    collab.authorizer.add("t", org)
    async with YClient(collab.url(org, flow, "t")) as c1:
        plain = {"id": "plain", "type": "default", "position": {"x": 0, "y": 0}}
        await c1.edit(lambda: c1.nodes.__setitem__("plain", plain))
        live = await collab.manager.materialized(org, flow)
        changed = {
            **live,
            "name": "Renamed",
            "nodes": [
                {**n, "data": {"label": "hi"}} if n["id"] == "a" else n for n in live["nodes"]
            ],
        }
        principal = collab.authorizer.tokens["t"].principal
        update = await collab.manager.apply_flow(org, flow, changed, principal)
        assert 0 < len(update) < 200
        await c1.wait_for(lambda: c1.flow.materialize()["name"] == "Renamed")
        assert c1.nodes["a"]["data"]["label"] == "hi"
        assert isinstance(c1.nodes["plain"], dict)  # the client's form is kept
        assert await collab.manager.apply_flow(org, flow, changed, principal) == b""


async def _never_reading_socket(url: str) -> asyncio.StreamWriter:
    """A raw WebSocket that joins the broadcast (sync step 1) and then never reads."""
    import base64
    import os
    import socket
    import struct

    host_port, _, path = url.removeprefix("ws://").partition("/")
    host, port = host_port.split(":")
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills fast
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=raw)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    payload = protocol.sync_step1(b"\x00")
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    writer.write(struct.pack("!BB", 0x82, 0x80 | len(payload)) + mask + masked)
    return writer  # never read from again


async def test_a_reader_that_never_reads_is_dropped_and_the_others_go_on(
    settings: Any,
) -> None:
    from minibase.collab.client import CLOSE_TOO_SLOW
    from minibase.collab.options import CollabOptions
    from tests.collab.conftest import start_server

    options = CollabOptions(
        unload_delay=0.05, materialize_delay=0.05, max_queued_frames=64, max_queued_bytes=256 * 1024
    )
    server, task, collab = await start_server(settings, options)
    try:
        org, flow = await _setup(collab)
        collab.authorizer.add("t", org)
        async with (
            YClient(collab.url(org, flow, "t")) as writer,
            YClient(collab.url(org, flow, "t")) as reader,
        ):
            never_reads = await _never_reading_socket(collab.url(org, flow, "t"))
            port = never_reads.get_extra_info("sockname")[1]
            room = collab.manager.loaded(org, flow)
            assert room is not None

            def stuck() -> Any:
                return next((c for c in room.clients if c.transport.client.port == port), None)

            def big(n: int) -> None:
                writer.nodes["a"]["data"]["x"] = "y" * 32_000 + str(n)

            # Every edit (~32 KB) also goes to the socket that never reads: its buffers
            # fill, then its queue, and it is dropped; each edit waits for its own echo.
            edits = 0
            while (slow := stuck()) is None or not slow.closed:
                edits += 1
                assert edits < 2000, "the reader that never reads was never dropped"
                await writer.edit(lambda n=edits: big(n))
            assert slow.close_code == CLOSE_TOO_SLOW
            assert slow._direct is not None  # it was on the direct path until it backed up
            assert slow.queued_bytes == 0  # what it had waiting went at once
            for _ in range(5):  # the others go on, at once
                edits += 1
                await writer.edit(lambda n=edits: writer.nodes["b"]["data"].__setitem__("n", n))
            await reader.wait_for(lambda: reader.nodes["b"]["data"]["n"] == edits)
            assert reader.materialize() == writer.materialize()
            never_reads.close()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
