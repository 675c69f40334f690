"""``WS /v1/sync``: live queries (subscribe / unsubscribe / result / error)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import orjson
from fastapi import APIRouter
from starlette.websockets import WebSocket, WebSocketDisconnect

from minibase.api.deps import app_context
from minibase.auth.credentials import authenticate
from minibase.auth.socket_tickets import socket_token
from minibase.errors import BadRequest, MinibaseError, Unauthenticated
from minibase.realtime.hub import CLOSE_UNAUTHENTICATED, LiveQueryHub, error_frame
from minibase.services.live_queries import parse_subscription

router = APIRouter(tags=["real time"])

MAX_FRAME = 64 * 1024
CLOSE_UNSUPPORTED_DATA = 1003


def _parse(text: str) -> dict[str, Any]:
    if len(text) > MAX_FRAME:
        raise BadRequest("Frame too large.")
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadRequest("Frames must be JSON objects.") from None
    if not isinstance(message, dict):
        raise BadRequest("Frames must be JSON objects.")
    return message


@router.websocket("/v1/sync")
async def sync(websocket: WebSocket) -> None:
    ctx = app_context(websocket)
    hub = cast(LiveQueryHub, ctx.hub)
    await websocket.accept()
    params = websocket.query_params
    try:
        token = await socket_token(ctx.store, params.get("token", ""), params.get("ticket", ""))
        principal = await authenticate(ctx.store, ctx.settings, token)
    except Unauthenticated:
        await websocket.close(CLOSE_UNAUTHENTICATED, "unauthenticated")
        return
    conn = hub.connect(websocket, principal, token)
    try:
        while not conn.closed:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                break
            text = frame.get("text")
            if text is None:  # a binary frame: this protocol is JSON text only
                await websocket.close(CLOSE_UNSUPPORTED_DATA, "text frames only")
                break
            sub_id: Any = None
            try:
                message = _parse(text)
                sub_id = message.get("id")
                kind = message.get("type")
                if kind == "ping":
                    conn.send({"type": "pong"})
                    continue
                if not isinstance(sub_id, str) or not 0 < len(sub_id) <= 128:
                    raise BadRequest("`id` must be a non-empty string.")
                if kind == "subscribe":
                    spec, args = parse_subscription(message.get("query"), message.get("args"))
                    await hub.subscribe(conn, sub_id, spec, args)
                elif kind == "unsubscribe":
                    hub.unsubscribe(conn, sub_id)
                else:
                    raise BadRequest("`type` must be subscribe, unsubscribe or ping.")
            except MinibaseError as error:
                conn.send(error_frame(sub_id if isinstance(sub_id, str) else None, error))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.disconnect(conn)
        tasks = [task for task in (conn.sender, conn.closer) if task is not None]
        if tasks:
            # The sender may have been stopped (cancelled) by a close: wait, never raise.
            await asyncio.wait(tasks)
            for task in tasks:
                if not task.cancelled():
                    task.exception()
