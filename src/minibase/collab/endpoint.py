"""``WS /v1/collab/{orgId}/{flowId}?token=...``: the y-websocket endpoint.

The socket is accepted first and refusals come as close codes (browsers cannot read an
HTTP status of a refused upgrade): 4401 unauthenticated, 4403 forbidden, 4404 no such
org or flow, 1011 when the room could not be opened for another reason (the database,
data that does not decrypt: logged with its traceback, never a socket left waiting). A
frame that is not a y-websocket message closes that socket with 1002 (protocol error); a
text frame with 1003.

Once the socket is in its room, its binary messages are handed to the room where the
server parses them (:mod:`minibase.sockets.direct_reads`, under ``minibase serve``), not
through the ASGI queue and this task: with many editors that hand-over cost more CPU than
the room's own work. This task then only waits for the rest (a text frame, the
disconnect), or for the reader to say it closed the socket.
"""

from __future__ import annotations

import logging

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from minibase.collab.client import CLOSE_PROTOCOL_ERROR, Client
from minibase.collab.protocol import ProtocolError
from minibase.collab.room import Room
from minibase.collab.rooms import RoomManager
from minibase.domain.collab import CollabAuthorizer
from minibase.errors import Forbidden, NotFound, Unauthenticated
from minibase.sockets.direct_frames import writer_of
from minibase.sockets.direct_reads import DirectReader, reader_of

log = logging.getLogger("minibase.collab")

PATH = "/v1/collab/{org_id}/{flow_id}"

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_UNAVAILABLE = 1013
CLOSE_INTERNAL_ERROR = 1011


class CollabEndpoint:
    """The route handler; its room manager and authorizer are bound by the app's lifespan."""

    def __init__(
        self, manager: RoomManager | None = None, authorizer: CollabAuthorizer | None = None
    ) -> None:
        self.manager = manager
        self.authorizer = authorizer

    def bind(self, manager: RoomManager, authorizer: CollabAuthorizer) -> None:
        self.manager = manager
        self.authorizer = authorizer

    def route(self) -> WebSocketRoute:
        return WebSocketRoute(PATH, self.handle, name="collab")

    async def handle(self, websocket: WebSocket) -> None:
        org_id = str(websocket.path_params["org_id"])
        flow_id = str(websocket.path_params["flow_id"])
        # A ticket (``mb_tkt_...``) is redeemed by the authorizer.
        token = websocket.query_params.get("ticket") or websocket.query_params.get("token", "")
        await websocket.accept()
        manager, authorizer = self.manager, self.authorizer
        if manager is None or authorizer is None:
            await websocket.close(CLOSE_UNAVAILABLE, "collab is not running")
            return
        try:
            access = await authorizer.authorize(token, org_id, flow_id)
        except Unauthenticated:
            await websocket.close(CLOSE_UNAUTHENTICATED, "unauthenticated")
            return
        except Forbidden:
            await websocket.close(CLOSE_FORBIDDEN, "forbidden")
            return
        except NotFound:
            await websocket.close(CLOSE_NOT_FOUND, "not found")
            return
        client = Client(
            websocket,
            access,
            max_queued=manager.options.max_queued_frames,
            max_queued_bytes=manager.options.max_queued_bytes,
            direct=writer_of(websocket.scope),
        )
        try:
            room = await manager.join(org_id, flow_id, client)
        except NotFound:
            await websocket.close(CLOSE_NOT_FOUND, "not found")
            return
        except Exception:
            # The socket is accepted already: a failure the client cannot help closes it
            # with 1011 (as a REST request answers 500), instead of leaving it waiting.
            log.exception("collab room did not open", extra={"org": org_id, "flow": flow_id})
            await websocket.close(CLOSE_INTERNAL_ERROR, "internal error")
            return
        client.start()
        reader = reader_of(websocket.scope)
        receiver = _DirectReceiver(room, client, reader) if reader is not None else None
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("bytes")
                if data is None:
                    client.close_soon(CLOSE_UNSUPPORTED_DATA, "binary frames only")
                    break
                # (The direct reader's wake-up lands here too, its client closed.)
                if not _receive(room, client, data):
                    break
                if receiver is not None:
                    receiver.start()
        except WebSocketDisconnect:
            pass
        finally:
            if reader is not None:
                reader.stop()
            manager.leave(room, client)
            await client.stop()


def _receive(room: Room, client: Client, data: bytes) -> bool:
    """Hand one binary message of ``client`` to its room, whichever way it came; whether
    the socket stays open. A frame that is not a y-websocket message closes it (1002)."""
    if client.closed:
        return False
    try:
        room.receive(client, data)
    except ProtocolError as exc:
        log.info("collab protocol error: %s", exc, extra={"org": room.org_id, "flow": room.flow_id})
        client.close_soon(CLOSE_PROTOCOL_ERROR, "protocol error")
    return not client.closed


class _DirectReceiver:
    """A socket's binary messages, handed to its room as the server parses them.

    It does what the receive loop of :meth:`CollabEndpoint.handle` does with a message
    (:func:`_receive`), inside the protocol's callback, where an exception would end the
    connection without a close frame: so anything unexpected is logged and closes the
    socket with 1011 (as the loop's exception would). Once the socket is closing, the
    reader stops and wakes the loop, which leaves the room.
    """

    __slots__ = ("_client", "_reader", "_room")

    def __init__(self, room: Room, client: Client, reader: DirectReader) -> None:
        self._room = room
        self._client = client
        self._reader = reader

    def start(self) -> None:
        """Take the socket's messages from now on, if the reader can (it says when)."""
        if not self._reader.running:
            self._reader.start(self)

    def __call__(self, data: bytes) -> None:
        try:
            stays_open = _receive(self._room, self._client, data)
        except Exception:
            log.exception(
                "collab frame failed",
                extra={"org": self._room.org_id, "flow": self._room.flow_id},
            )
            self._client.close_soon(CLOSE_INTERNAL_ERROR, "internal error")
            stays_open = False
        if not stays_open:
            self._reader.stop(wake=True)
