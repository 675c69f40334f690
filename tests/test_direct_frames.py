"""The fast path of broadcasts: frames encoded once, byte for byte what websockets sends."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from minibase.sockets.direct_frames import OP_BINARY, OP_TEXT, FrameCache, encode_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_a_frame_is_what_websockets_would_send(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    expected = Frame(Opcode.BINARY, payload).serialize(mask=False, extensions=[])
    assert encode_frame(payload, OP_BINARY) == expected
    text = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert encode_frame(payload, OP_TEXT) == text


def test_a_broadcast_payload_is_encoded_once() -> None:
    cache = FrameCache()
    frame = b"\x00\x02" + b"u" * 300
    first = cache.wire(frame)
    assert cache.wire(frame) is first  # the same payload object: the same wire bytes
    other = bytes(frame)  # equal but another object: encoded again, no stale reuse
    assert cache.wire(b"x") != first and cache.wire(other) == first
    text = '{"type":"result","id":"q","value":{"name":"é"},"version":2}'
    assert cache.wire(text) == encode_frame(text.encode(), OP_TEXT)


def test_a_first_sync_too_large_to_keep_is_not_kept() -> None:
    cache = FrameCache()
    big = b"\x00" * (2 * 1024 * 1024)
    assert cache.wire(big) == encode_frame(big, OP_BINARY)
    assert cache.wire(big) is not cache.wire(big)  # encoded each time, never held
