"""Issue 12, item 6: awareness (presence) is bounded per socket and owned by its socket.

A viewer could flood awareness (frames of 50,000 entries) and overwrite another client's
presence by reusing its client id. Now a socket speaks only for the ids it announced
first, for at most ``MINIBASE_COLLAB_AWARENESS_MAX_CLIENTS`` of them, with states of at
most ``MINIBASE_COLLAB_AWARENESS_MAX_STATE_BYTES``, at ``MINIBASE_COLLAB_AWARENESS_PER_SECOND``
frames (newest state wins beyond it); the server keeps answering ``/healthz``.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import websockets

from minibase.collab import protocol
from minibase.config import Settings
from tests.collab.yclient import YClient
from tests.flows_helpers import new_org, node

TIMEOUT = 5
DEFAULTS = Settings()


def awareness(*entries: tuple[int, int, object]) -> bytes:
    encoded = [protocol.AwarenessEntry(c, clock, json.dumps(state)) for c, clock, state in entries]
    return protocol.awareness_message(protocol.encode_awareness_update(encoded))


def states_of(frame: bytes) -> dict[int, str]:
    message = protocol.decode_message(frame)
    assert isinstance(message, protocol.AwarenessUpdate)
    return {e.client_id: e.state for e in protocol.decode_awareness_update(message.update)}


async def round_trip(ws: websockets.ClientConnection) -> list[bytes]:
    """Frames received until the answer to a sync step 1 sent now.

    The server handles one socket's frames in order, so every frame this socket sent
    before has been handled (and answered) by then.
    """
    await ws.send(protocol.sync_step1(b"\x00"))
    frames: list[bytes] = []
    while True:
        frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert isinstance(frame, bytes)
        if frame[:2] == b"\x00\x01":
            return frames
        frames.append(frame)


async def query(ws: websockets.ClientConnection) -> bytes:
    """The server's answer to a query-awareness message sent now."""
    await ws.send(protocol.query_awareness())
    return [f for f in await round_trip(ws) if f[:1] == b"\x01"][-1]


async def setup(client: httpx.AsyncClient, live_url: str) -> tuple[str, str]:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    base = f"ws://{live_url}/v1/collab/{org.id}/{flow['id']}?token="
    viewer = await org.member("viewer")
    return base + org.admin.token, base + viewer.token


async def test_flood_is_bounded_and_presence_is_owned(
    client: httpx.AsyncClient, live_url: str
) -> None:
    editor_url, viewer_url = await setup(client, live_url)
    async with YClient(editor_url) as alice, YClient(editor_url) as observer:
        await alice.send(awareness((1234, 1, {"user": "alice"})))
        await observer.wait_for(lambda: observer.awareness.get(1234) == '{"user": "alice"}')
        async with websockets.connect(viewer_url, max_size=None) as attacker:
            # The flood: frames of 50,000 entries. Dropped undecoded.
            flood = [(10_000 + i, 1, {"u": i}) for i in range(50_000)]
            for _ in range(10):
                await attacker.send(awareness(*flood))
            # Many small entries: only the first MAX_CLIENTS ids are this socket's.
            await attacker.send(awareness(*[(500 + i, 1, {"u": i}) for i in range(100)]))
            # A huge state is not relayed.
            await attacker.send(awareness((900, 1, {"u": "x" * 100_000})))
            # Another socket's id: not overwritten, whatever the clock.
            await attacker.send(awareness((1234, 99, {"user": "mallory"})))
            # The attacker's own round trip: every frame above has been handled.
            await round_trip(attacker)
            async with websockets.connect(editor_url) as probe:
                answer = await query(probe)
            states = states_of(answer)
            assert states[1234] == '{"user": "alice"}'
            attacker_ids = [cid for cid in states if cid != 1234]
            assert 0 < len(attacker_ids) <= DEFAULTS.collab_awareness_max_clients
            assert all(500 <= cid < 600 for cid in attacker_ids)  # no flood id, no huge state
            bound = (
                4
                * DEFAULTS.collab_awareness_max_clients
                * (DEFAULTS.collab_awareness_max_state_bytes + 32)
            )
            assert len(answer) < bound
            assert observer.awareness[1234] == '{"user": "alice"}'
        # The attacker left: its states are removed, alice's stays.
        await observer.wait_for(lambda: not any(500 <= cid < 600 for cid in observer.awareness))
        assert observer.awareness[1234] == '{"user": "alice"}'
    assert (await client.get("/healthz")).status_code == 200


async def test_rate_is_bounded_and_the_newest_state_arrives(
    client: httpx.AsyncClient, live_url: str
) -> None:
    editor_url, viewer_url = await setup(client, live_url)
    async with YClient(editor_url) as observer, websockets.connect(viewer_url) as chatty:
        seen = len(observer.frames)
        started = time.monotonic()
        for clock in range(1, 301):
            await chatty.send(awareness((77, clock, {"x": clock})))
        await observer.wait_for(lambda: observer.awareness.get(77) == '{"x": 300}', within=30)
        elapsed = time.monotonic() - started
        relayed = [f for f in observer.frames[seen:] if f[:1] == b"\x01" and b'"x"' in f]
        rate = DEFAULTS.collab_awareness_per_second
        assert len(relayed) <= 2 * rate + rate * elapsed + 2
        assert len(relayed) < 300
    assert (await client.get("/healthz")).status_code == 200
