"""Property tests: random and mutated input never crashes the parser."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from helppoint.gateway.sia import crypto
from helppoint.gateway.sia.codec import (
    FrameError,
    FrameReader,
    MessageError,
    Token,
    encode,
    parse_content,
    parse_message,
    unframe,
)
from helppoint.gateway.sia.events import events_of

KEY = bytes(range(16))
GOOD = [
    encode(Token.SIA_DCS, 1, "1234", "Nri1/PA501"),
    encode(Token.ADM_CID, 2, "1234", "1120 01 015"),
    encode(Token.SIA_DCS, 3, "1234", "Nri1/PA501", key=KEY),
    encode(Token.NULL, 4, "1234", ""),
]


def parse_everything(data: bytes) -> None:
    """Run a datagram through every stage the receiver would; only our errors may escape."""
    for item in FrameReader().feed(data):
        if isinstance(item, FrameError):
            continue
        try:
            message = parse_message(item)
            rest = message.rest
            if message.encrypted:
                rest = crypto.decrypt_data(KEY, rest)
            content = parse_content(rest)
            if message.token is not None:
                events_of(message.token, content.data)
        except (MessageError, crypto.DecryptError):
            pass


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash(data: bytes) -> None:
    parse_everything(data)


@settings(max_examples=500)
@given(
    st.sampled_from(GOOD),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
    st.integers(0, 200),
)
def test_mutated_frames_never_crash(frame: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(frame)
    for index, value in flips:
        data[index % len(data)] = value
    parse_everything(bytes(data[: len(data) - cut % len(data)]))


@settings(max_examples=200)
@given(st.lists(st.sampled_from(GOOD), min_size=1, max_size=5), st.data())
def test_any_split_of_a_stream_gives_the_same_frames(
    frames: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    reader = FrameReader()
    got: list[bytes | FrameError] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        got += reader.feed(stream[start:cut])
        start = cut
    assert got == [unframe(f) for f in frames]


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80))
def test_random_content_text_never_crashes(text: str) -> None:
    try:
        content = parse_content(text)
        events_of(Token.SIA_DCS, content.data)
        events_of(Token.ADM_CID, content.data)
    except MessageError:
        pass


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(GOOD), st.booleans()), min_size=1, max_size=5), st.data())
def test_crlf_endings_in_any_split_give_the_frames_and_no_error(
    frames: list[tuple[bytes, bool]], data: st.DataObject
) -> None:
    stream = b"".join(f + (b"\n" if crlf else b"") for f, crlf in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    reader = FrameReader()
    got: list[bytes | FrameError] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        got += reader.feed(stream[start:cut])
        start = cut
    assert got == [unframe(f) for f, _ in frames]
