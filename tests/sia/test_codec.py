"""DC-09 codec: CRC, framing, headers, content, responses; published example messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from helppoint.domain.events import EventType
from helppoint.gateway.sia import crypto
from helppoint.gateway.sia.codec import (
    FrameError,
    FrameReader,
    MessageError,
    Response,
    Token,
    ack,
    crc16,
    encode,
    frame,
    parse_answer,
    parse_content,
    parse_message,
    response,
    timestamp_text,
    unframe,
)
from helppoint.gateway.sia.events import events_of

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")

# Messages published in pysiaalarm's test suite (eavanvalkenburg/pysiaalarm, tests/), CRC and
# length fields as printed there (the leading LF and trailing CR are framing).
PUBLISHED_ENCRYPTED_NULL = (
    '76D80055"*NULL"0000R0L0#AAAB[B4BC8B40D0E6D959D6BEA78E88CC0B2155741A3C44FBB96D476A3E557CAD64D9'
)
PUBLISHED_ENCRYPTED_EVENT = (
    '60AB0078"*SIA-DCS"5994L0#AAA[5AB718E008C616BF16F6468033A11326B0F7546CAB230910BCA10E4DEB'
    "A42283C436E4F8EFF50931070DDE36D5BB5F0C"
)
PUBLISHED_CLOSING = 'E5D50078"SIA-DCS"6002L0#AAA[|Nri1/CL501]_14:12:04,09-25-2019'


def wire(published: str) -> bytes:
    return b"\n" + published.encode() + b"\r"


def test_crc_is_crc16_arc() -> None:
    assert crc16(b"123456789") == 0xBB3D  # the CRC-16/ARC check value


def bitwise_crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_crc_of_every_length_matches_the_bitwise_definition() -> None:
    # Even and odd lengths: the last byte of an odd-length body is folded in on its own.
    data = bytes(range(7, 256)) + b'"SIA-DCS"0001R0L0#1234[#1234|Nri1/PA501]'
    for length in range(len(data) + 1):
        assert crc16(data[:length]) == bitwise_crc16(data[:length]), length


@pytest.mark.parametrize(
    "published", [PUBLISHED_ENCRYPTED_NULL, PUBLISHED_ENCRYPTED_EVENT, PUBLISHED_CLOSING]
)
def test_published_crcs_match(published: str) -> None:
    assert f"{crc16(published[8:].encode()):04X}" == published[:4]


def test_published_encrypted_null_is_intact() -> None:
    body = unframe(wire(PUBLISHED_ENCRYPTED_NULL))
    message = parse_message(body)
    assert (message.token, message.encrypted, message.seq) == (Token.NULL, True, "0000")
    assert (message.receiver, message.line, message.account) == ("R0", "L0", "AAAB")


def test_published_message_with_wrong_length_field_is_refused() -> None:
    # The example says 0x78 bytes, but its body holds 0x34: a strict receiver refuses it.
    with pytest.raises(FrameError) as caught:
        unframe(wire(PUBLISHED_CLOSING))
    assert caught.value.kind == "length"


def test_several_frames_in_one_read_and_one_frame_across_reads() -> None:
    one = encode(Token.SIA_DCS, 1, "1234", "Nri1/PA501")
    two = encode(Token.ADM_CID, 2, "1234", "1120 01 015")
    reader = FrameReader()
    assert reader.feed(one + two) == [unframe(one), unframe(two)]
    stream = one + two
    got: list[bytes | FrameError] = []
    for i in range(len(stream)):
        got += reader.feed(stream[i : i + 1])
    assert got == [unframe(one), unframe(two)]
    assert reader.pending == 0


def test_damaged_frames_are_reported_and_the_stream_resynchronises() -> None:
    good = encode(Token.SIA_DCS, 3, "1234", "Nri1/PA501")
    bad_crc = b"\n0000" + good[5:]
    items = FrameReader().feed(b"garbage" + bad_crc + good)
    assert [type(i).__name__ for i in items] == ["FrameError", "FrameError", "bytes"]
    assert [i.kind for i in items if isinstance(i, FrameError)] == ["framing", "crc"]


def too_long(frame_bytes: bytes, by: int = 16) -> bytes:
    """The frame with a length field `by` bytes longer than its body (CRC still right)."""
    length = int(frame_bytes[6:9], 16) + by
    return frame_bytes[:5] + b"0%03X" % length + frame_bytes[9:]


def test_a_length_field_longer_than_the_body_is_answered_at_once() -> None:
    # A panel that waits for the answer sends nothing more: the frame must not wait for bytes.
    good = encode(Token.SIA_DCS, 4, "1234", "Nri1/PA501")
    reader = FrameReader()
    [error] = reader.feed(too_long(good))
    assert isinstance(error, FrameError) and error.kind == "length"
    assert reader.pending == 0
    # ... and the frames after it, in the same read or the next, are read as usual.
    items = reader.feed(too_long(good) + good)
    assert [i.kind if isinstance(i, FrameError) else i for i in items] == ["length", unframe(good)]


def test_a_long_length_field_resynchronises_on_the_next_lf() -> None:
    # The broken frame's CR lost too: the next frame's LF is where reading goes on.
    good = encode(Token.SIA_DCS, 5, "1234", "Nri1/PA501")
    broken = too_long(good, 0x300)[:-1]
    got: list[bytes | FrameError] = []
    reader = FrameReader()
    stream = broken + good + good
    for i in range(0, len(stream), 7):
        got += reader.feed(stream[i : i + 7])
    assert [i.kind if isinstance(i, FrameError) else i for i in got] == [
        "length",
        unframe(good),
        unframe(good),
    ]


def test_crlf_line_endings_are_no_frames() -> None:
    # Panels that end each frame with CR LF leave a stray LF before the next frame's LF.
    one = encode(Token.SIA_DCS, 1, "1234", "Nri1/PA501") + b"\n"
    two = encode(Token.NULL, 2, "1234", "") + b"\n"
    for stream in (one + two, one + two + one):
        reader = FrameReader()
        assert all(isinstance(i, bytes) for i in reader.feed(stream))
        byte_by_byte: list[bytes | FrameError] = []
        reader = FrameReader()
        for i in range(len(stream)):
            byte_by_byte += reader.feed(stream[i : i + 1])
        assert byte_by_byte == FrameReader().feed(stream)
        assert len(byte_by_byte) == stream.count(b"\r")
    # One frame per read, as a stop-and-wait panel sends them.
    reader = FrameReader()
    assert [reader.feed(one), reader.feed(two), reader.feed(one)] == [
        [unframe(one[:-1])],
        [unframe(two[:-1])],
        [unframe(one[:-1])],
    ]


def test_header_fields_are_kept_exactly_as_sent() -> None:
    message = parse_message(b'"SIA-DCS"0042L3#00ABC[#00ABC|Nri1/HA2]')
    assert message.receiver is None and message.line == "L3" and message.seq == "0042"
    ack = unframe(response(Response.ACK, message, now=NOW))
    # No receiver field invented, no literal "None".
    assert ack == b'"ACK"0042L3#00ABC[]'


def test_nak_carries_our_time_and_is_framed() -> None:
    nak = response(Response.NAK, None, now=NOW)
    assert nak.startswith(b"\n") and nak.endswith(b"\r")
    assert unframe(nak) == b'"NAK"0000R0L0A0[]_12:00:00,11-25-2026'


def test_encrypted_ack_decrypts_with_the_account_key() -> None:
    message = parse_message(unframe(encode(Token.SIA_DCS, 9, "1234", "NPA1", key=KEY, at=NOW)))
    answer = parse_answer(unframe(response(Response.ACK, message, key=KEY, now=NOW)), KEY)
    assert (answer.kind, answer.encrypted, answer.seq, answer.timestamp) == (
        Response.ACK,
        True,
        "0009",
        NOW,
    )


@pytest.mark.parametrize(
    "body",
    [
        b'"SIA-DCS"0009R0L0#1234[#1234|Nri1/PA1]',
        b'"SIA-DCS"0010L0#1234[#1234|Nri1/PA1]',  # no receiver: none echoed
        b'"SIA-DCS"9999R1F2L3A4[#ABCD|Nri1/PA1]',  # the account only inside the data
        b'"NULL"0001R0L0#123[]',
    ],
)
@pytest.mark.parametrize("account", [None, "ABCD"])
def test_a_plain_ack_is_built_as_response_builds_it(body: bytes, account: str | None) -> None:
    message = parse_message(body)
    assert ack(message, account, None, NOW) == response(Response.ACK, message, account, now=NOW)


def test_encrypted_message_round_trip() -> None:
    body = unframe(encode(Token.SIA_DCS, 7, "1234", "Nri1/PA501", key=KEY, at=NOW))
    message = parse_message(body)
    assert message.encrypted and len(message.rest) % 32 == 0
    content = parse_content(crypto.decrypt_data(KEY, message.rest))
    assert (content.account, content.data, content.timestamp) == ("1234", "Nri1/PA501", NOW)


def test_wrong_key_does_not_decrypt() -> None:
    message = parse_message(unframe(encode(Token.SIA_DCS, 7, "1234", "NPA1", key=KEY, at=NOW)))
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt_data(bytes(16), message.rest)


@pytest.mark.parametrize("size", [16, 24, 32])
def test_aes_128_192_256(size: int) -> None:
    key = bytes(range(size))
    assert crypto.decrypt_data(key, crypto.encrypt(key, "Nri1]x")) == "Nri1]x"


@pytest.mark.parametrize("size", [16, 32])
def test_aes_is_cbc_with_a_zero_iv_over_several_blocks(size: int) -> None:
    # Our CBC chaining over single-block AES must be exactly the library's CBC.
    key = bytes(range(size))
    text = "#1234|Nri1/PA501][M0026B9E4268B][Xlon0.1]_14:12:04,09-25-2019"
    cbc = Cipher(algorithms.AES(key), modes.CBC(bytes(16)))
    ours = bytes.fromhex(crypto.encrypt(key, text))
    plain = cbc.decryptor().update(ours)
    assert len(ours) > 32 and plain.decode("ascii").endswith("|" + text)
    encryptor = cbc.encryptor()
    theirs = (encryptor.update(plain) + encryptor.finalize()).hex()
    assert crypto.decrypt(key, theirs) == plain


def test_a_timestamp_seen_before_parses_the_same() -> None:
    rest = "#1234|NPA1]_14:12:04,09-25-2019"
    first, again = parse_content(rest), parse_content(rest)
    assert first.timestamp == again.timestamp == datetime(2019, 9, 25, 14, 12, 4, tzinfo=UTC)
    assert (again.data, again.extended) == ("NPA1", [])
    # ... and an impossible time that looks alike is still refused.
    with pytest.raises(MessageError):
        parse_content("#1234|NPA1]_24:12:04,09-25-2019")


def test_answers_carry_the_second_they_are_sent() -> None:
    later = NOW.replace(second=1)
    assert timestamp_text(NOW) == "_12:00:00,11-25-2026"
    assert timestamp_text(later) == "_12:00:01,11-25-2026"
    assert timestamp_text(NOW.replace(microsecond=999_999)) == "_12:00:00,11-25-2026"


def test_content_with_extended_data_and_timestamp() -> None:
    content = parse_content("#1234|Nri1/PA501][M0026B9E4268B][Xlon0.1]_14:12:04,09-25-2019")
    assert content.extended == ["M0026B9E4268B", "Xlon0.1"]
    assert content.timestamp == datetime(2019, 9, 25, 14, 12, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    "rest", ["#1234|NPA1", "#1234|NPA1]_99:99:99,13-45-2019", "#ZZ|NPA1]", "NPA1]garbage"]
)
def test_malformed_content_is_refused(rest: str) -> None:
    with pytest.raises(MessageError):
        parse_content(rest)


def test_frame_limit() -> None:
    with pytest.raises(ValueError):
        frame(b"x" * 0x1000)


@pytest.mark.parametrize(
    ("token", "data", "expected"),
    [
        (Token.SIA_DCS, "Nri1/PA501", [(EventType.ACTIVATION, "501")]),
        (
            Token.SIA_DCS,
            "Nid12/ri2/HA3/TA4",
            [(EventType.ACTIVATION, "3"), (EventType.TAMPER, "4")],
        ),
        (Token.SIA_DCS, "NMA", [(EventType.ACTIVATION, None)]),
        (Token.SIA_DCS, "NAT", [(EventType.FAULT, None)]),
        (Token.SIA_DCS, "NRP", [(EventType.SELF_TEST, None)]),
        (Token.SIA_DCS, "NPR501", [(EventType.HEARTBEAT, "501")]),
        (Token.ADM_CID, "1120 01 015", [(EventType.ACTIVATION, "15")]),
        (Token.ADM_CID, "1100 01 002", [(EventType.ACTIVATION, "2")]),
        (Token.ADM_CID, "3120 01 015", [(EventType.HEARTBEAT, "15")]),
        (Token.ADM_CID, "1137 00 000", [(EventType.TAMPER, "0")]),
        (Token.ADM_CID, "1302 00 000", [(EventType.FAULT, "0")]),
        (Token.ADM_CID, "1602 00 000", [(EventType.SELF_TEST, "0")]),
        (Token.NULL, "", []),
    ],
)
def test_event_codes_map_to_device_events(
    token: Token, data: str, expected: list[tuple[EventType, str | None]]
) -> None:
    assert [(e.type, e.zone) for e in events_of(token, data)] == expected


def test_codes_missing_from_the_tables_are_flagged() -> None:
    [sia] = events_of(Token.SIA_DCS, "NZX12")
    [cid] = events_of(Token.ADM_CID, "1777 01 001")
    for event in (sia, cid):
        assert not event.mapped and event.type is EventType.FAULT
        assert event.payload["fault"] == "sia_unknown_code" and event.payload["unmapped"]
