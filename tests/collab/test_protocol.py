from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycrdt import create_sync_message, write_var_uint

from minibase.collab import protocol
from minibase.collab.protocol import Decoder, ProtocolError


@given(st.integers(min_value=0, max_value=2**53))
def test_varuint_round_trip_and_matches_pycrdt(num: int) -> None:
    encoded = protocol.encode_varuint(num)
    assert encoded == write_var_uint(num)
    assert Decoder(encoded).read_varuint() == num


@pytest.mark.parametrize(
    ("num", "raw"), [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02")]
)
def test_varuint_known_values(num: int, raw: bytes) -> None:
    assert protocol.encode_varuint(num) == raw


@given(st.binary(max_size=300), st.text(max_size=50))
def test_arrays_and_strings(data: bytes, text: str) -> None:
    out = bytearray()
    protocol.write_varuint8array(out, data)
    protocol.write_varstring(out, text)
    dec = Decoder(bytes(out))
    assert dec.read_varuint8array() == data
    assert dec.read_varstring() == text
    assert dec.remaining == 0


MESSAGES: list[protocol.Message] = [
    protocol.SyncStep1(b"\x00"),
    protocol.SyncStep2(b"\x00\x00"),
    protocol.SyncUpdate(b"\x01\x02\x03" * 100),
    protocol.AwarenessUpdate(b"\x00"),
    protocol.PermissionDenied("read-only"),
    protocol.QueryAwareness(),
    protocol.Notification({"type": "rule_violation", "removed": [], "reason": "x"}),
]


@pytest.mark.parametrize("message", MESSAGES)
def test_messages_round_trip(message: protocol.Message) -> None:
    assert protocol.decode_message(protocol.encode_message(message)) == message


def test_wire_bytes_match_y_protocols() -> None:
    assert protocol.permission_denied("read-only") == b"\x02\x00\x09read-only"
    assert protocol.query_awareness() == b"\x03"
    assert protocol.sync_update(b"ab") == b"\x00\x02\x02ab"
    from pycrdt import Doc

    doc: Doc[object] = Doc()
    assert protocol.sync_step1(doc.get_state()) == create_sync_message(doc)


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x00",
        b"\x00\x00",
        b"\x00\x00\x05ab",
        b"\x00\x09\x00",
        b"\x07",
        b"\x02\x01",
        b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80",
        b"\x02\x00\x02\xff\xfe",
        b"d\x03abc",
    ],
)
def test_malformed_frames_raise_protocol_error(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        protocol.decode_message(frame)


def test_awareness_update_round_trip() -> None:
    entries = [
        protocol.AwarenessEntry(1, 5, '{"user":{"name":"a"}}'),
        protocol.AwarenessEntry(2**40, 0, "null"),
    ]
    decoded = protocol.decode_awareness_update(protocol.encode_awareness_update(entries))
    assert decoded == entries
    assert decoded[1].removed
    with pytest.raises(ProtocolError):
        protocol.decode_awareness_update(b"\x05\x01")
    with pytest.raises(ProtocolError):
        protocol.decode_awareness_update(
            protocol.encode_awareness_update([protocol.AwarenessEntry(1, 1, "{not json")])
        )


@given(st.binary(max_size=200))
def test_the_short_update_path_decodes_as_the_decoder_does(frame: bytes) -> None:
    # decode_message reads short updates without a Decoder: same message, same errors.
    for candidate in (frame, b"\x00\x02" + frame, b"\x00\x02" + bytes([len(frame)]) + frame):
        try:
            expected: protocol.Message | type[ProtocolError] = protocol._decode(candidate)
        except ProtocolError:
            expected = ProtocolError
        try:
            got: protocol.Message | type[ProtocolError] = protocol.decode_message(candidate)
        except ProtocolError:
            got = ProtocolError
        assert got == expected
