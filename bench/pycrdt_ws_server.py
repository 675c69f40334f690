"""Benchmark only (bench/collab_compare.py): pycrdt-websocket's ASGI server on uvicorn.

Runs in a throwaway virtualenv that has ``pycrdt-websocket`` (never a Minibase
dependency)::

    python bench/pycrdt_ws_server.py PORT SEED_FILE

One room, ``/bench``, created up front from the Yjs update in SEED_FILE (the same flow
state Minibase serves); in memory (no YStore). uvicorn with ``ws_per_message_deflate=False``
and uvloop, as ``minibase serve`` runs (uvicorn's default would compress every small
frame). Prints
``listening PORT`` when ready; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvicorn
from pycrdt.websocket import ASGIServer, WebsocketServer


async def main(port: int, seed: bytes) -> None:
    websocket_server = WebsocketServer(auto_clean_rooms=False)
    async with websocket_server:
        room = await websocket_server.get_room("/bench")
        room.ydoc.apply_update(seed)
        config = uvicorn.Config(
            ASGIServer(websocket_server),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            ws_per_message_deflate=False,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
            await asyncio.sleep(0.01)
        print(f"listening {port}", flush=True)
        await task


if __name__ == "__main__":
    import uvloop  # uvicorn[standard]'s loop, as ``minibase serve`` gets it

    uvloop.run(main(int(sys.argv[1]), Path(sys.argv[2]).read_bytes()))
