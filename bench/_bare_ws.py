"""A bare WebSocket reader for benchmarks: asyncio streams, no parsing beyond framing.

It keeps the load generator light so the server, not the client, is what is measured.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import struct


class BareSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, host: str, port: int, path: str) -> BareSocket:
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.decode(errors="replace"))
        return cls(reader, writer)

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)

    async def recv(self) -> bytes:
        """The payload of the next data frame (server frames are not masked)."""
        while True:
            first, second = await self.reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            payload = await self.reader.readexactly(length)
            if first & 0x0F in (0x1, 0x2):
                return payload

    def close(self) -> None:
        self.writer.close()


def freeze_heap() -> None:
    """Keep the load generator's long-lived objects out of the collector's full passes.

    Call it once the sockets are connected, before the measured window. With 1,000
    sockets a full pass paused the load generator for about 60 ms, and a pause of the
    load generator reads as the server's delivery latency (the spikes of the live-query
    p99). The server does the same after its start-up (``gc.freeze`` in the app's
    lifespan). Collects first, so no garbage is frozen.
    """
    gc.collect()
    gc.freeze()
