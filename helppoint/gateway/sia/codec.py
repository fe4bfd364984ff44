"""SIA DC-09 framing and messages: CRC, length, header fields, timestamps, responses.

A frame on the wire is ``LF crc(4 hex) 0LLL(length, hex) body CR``; CRC and length cover the
body, from the opening `"` of the ID token up to the CR. The body is
``"ID"seq[Rrcvr]Lpref[#acct][data][x…]_HH:MM:SS,MM-DD-YYYY``, with everything after the `[`
encrypted (hex) when the ID starts with `*`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import crcmod

from helppoint.gateway.sia import crypto

LF, CR = 0x0A, 0x0D
HEADER = 9  # LF + 4 CRC + 4 length
#: The length field has three hex digits.
MAX_BODY = 0xFFF


class Token(enum.StrEnum):
    """The message ID tokens this receiver understands."""

    SIA_DCS = "SIA-DCS"
    ADM_CID = "ADM-CID"
    NULL = "NULL"


class Response(enum.StrEnum):
    """What the receiver answers."""

    ACK = "ACK"
    NAK = "NAK"
    DUH = "DUH"


class FrameError(ValueError):
    """A frame failed an integrity check (framing, length or CRC): answer NAK."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class MessageError(ValueError):
    """A frame that is intact but cannot be processed: answer DUH (or NAK, see `nak`)."""

    def __init__(self, kind: str, message: str, nak: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.nak = nak


#: CRC-16/ARC (polynomial 0x8005 reflected, initial 0), as DC-09 specifies: crcmod's C code,
#: about ten times faster than the best table-driven Python (every message and every answer is
#: checked).
crc16: Callable[[bytes], int] = crcmod.mkCrcFun(0x18005, initCrc=0, rev=True, xorOut=0)


def frame(body: bytes) -> bytes:
    """Wrap a body in LF, CRC, length and CR."""
    if len(body) > MAX_BODY:
        raise ValueError(f"a DC-09 body is at most {MAX_BODY} bytes")
    return b"\n%04X0%03X%s\r" % (crc16(body), len(body), body)


_HEX_FIELDS = re.compile(rb"[0-9A-Fa-f]{4}0[0-9A-Fa-f]{3}")


def _check(crc_text: bytes, length_text: bytes) -> tuple[int, int]:
    if _HEX_FIELDS.fullmatch(crc_text + length_text):
        return int(crc_text, 16), int(length_text, 16)  # the usual case, checked in one go
    try:
        crc = int(crc_text, 16)
    except ValueError:
        raise FrameError("framing", f"CRC field {crc_text!r} is not hex") from None
    if length_text[:1] != b"0":
        raise FrameError("framing", f"length field {length_text!r} must start with '0'")
    try:
        length = int(length_text[1:], 16)
    except ValueError:
        raise FrameError("framing", f"length field {length_text!r} is not hex") from None
    if not all(chr(c) in "0123456789abcdefABCDEF" for c in crc_text + length_text[1:]):
        raise FrameError("framing", "CRC and length fields must be hex digits")
    return crc, length


def unframe(data: bytes) -> bytes:
    """The body of one complete frame (a UDP datagram); FrameError if it is not intact."""
    if len(data) < HEADER + 1 or data[0] != LF:
        raise FrameError("framing", "a frame starts with LF and holds CRC and length")
    crc, length = _check(data[1:5], data[5:9])
    end = HEADER + length
    if len(data) != end + 1 or data[end] != CR:
        raise FrameError(
            "length", f"length field says {length} bytes but the frame holds {len(data) - 10}"
        )
    body = data[HEADER:end]
    if crc16(body) != crc:
        raise FrameError("crc", f"CRC {crc:04X} does not match the body ({crc16(body):04X})")
    return body


class FrameReader:
    """Splits a TCP byte stream into frames: several per read, or one across many reads.

    Frames are found by LF and the length field, never by read boundaries. `feed` returns
    each complete frame's body, or a FrameError for a damaged one; bytes before an LF are
    skipped (and reported once per run of garbage). A body holds no CR or LF, so a frame whose
    length field runs past one is reported at once (not waited for) and reading goes on from
    there; a stray LF (a panel ending its frames with CR LF) is skipped without a report.
    """

    def __init__(self, max_buffer: int = MAX_BODY + HEADER + 1) -> None:
        self._buffer = bytearray()
        self._max_buffer = max_buffer

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        """Add received bytes; the frames (or errors) now complete, in order."""
        if not self._buffer and data[:1] == b"\n" and len(data) > HEADER:
            # The usual read: exactly one whole, intact frame and nothing waiting.
            fields = data[1:HEADER]
            if _HEX_FIELDS.fullmatch(fields):
                end = HEADER + int(fields[5:], 16)
                if len(data) == end + 1 and data[end] == CR:
                    body = data[HEADER:end]
                    if crc16(body) == int(fields[:4], 16):
                        return [body]
        self._buffer += data
        out: list[bytes | FrameError] = []
        buffer = self._buffer
        while buffer:
            start = buffer.find(LF)
            if start == -1:
                out.append(FrameError("framing", f"{len(buffer)} bytes outside any frame"))
                buffer.clear()
                break
            if start > 0:
                out.append(FrameError("framing", f"{start} bytes outside any frame"))
                del buffer[:start]
            stray = buffer.find(LF, 1, HEADER)
            if stray != -1:
                # Another LF where the CRC and length belong: the first was a stray one (a
                # panel ending its lines with CR LF), not a frame. Nothing to answer.
                del buffer[:stray]
                continue
            if len(buffer) < HEADER:
                break
            try:
                crc, length = _check(bytes(buffer[1:5]), bytes(buffer[5:9]))
            except FrameError as exc:
                out.append(exc)
                del buffer[:1]  # resynchronise on the next LF
                continue
            end = HEADER + length
            # A body holds no CR or LF: one inside the announced length means the frame ended
            # before it (the length field is too long). Answer NAK now rather than wait (for
            # ever, if the panel waits for the answer before it sends more) for bytes that
            # are not coming, and go on from there.
            cr, lf = buffer.find(CR, HEADER, end), buffer.find(LF, HEADER, end)
            if cr != -1 or lf != -1:
                short = min(n for n in (cr, lf) if n != -1)
                out.append(
                    FrameError(
                        "length",
                        f"length field says {length} bytes but the frame holds {short - HEADER}",
                    )
                )
                del buffer[: short + (buffer[short] == CR)]
                continue
            if len(buffer) <= end:
                break  # wait for the rest
            if buffer[end] != CR:
                out.append(FrameError("length", f"no CR after the {length} bytes announced"))
                del buffer[:1]
                continue
            body = bytes(buffer[HEADER:end])
            del buffer[: end + 1]
            if crc16(body) != crc:
                out.append(
                    FrameError("crc", f"CRC {crc:04X} does not match the body ({crc16(body):04X})")
                )
                continue
            out.append(body)
        return out


_HEADER_RE = re.compile(
    r'"(?P<star>\*?)(?P<token>[A-Z0-9-]{1,16})"'
    r"(?P<seq>\d{4})"
    r"(?P<receiver>R[0-9A-Fa-f]{1,6})?"
    r"(?P<line>L[0-9A-Fa-f]{1,6})"
    r"(?:#(?P<account>[0-9A-Fa-f]{3,16}))?"
    r"\[(?P<rest>.*)\Z",
    re.DOTALL,
)


class Message(NamedTuple):
    """The header of a DC-09 message, and its data (still hex when encrypted).

    A named tuple: immutable like a frozen dataclass, and several times cheaper to build,
    which every message does.
    """

    #: None for an ID token this receiver does not support (answered DUH).
    token: Token | None
    token_text: str
    encrypted: bool
    seq: str
    receiver: str | None
    line: str
    account: str | None
    rest: str

    def echo_fields(self) -> str:
        """seq, receiver and line exactly as the sender gave them (a missing R stays missing)."""
        return f"{self.seq}{self.receiver or ''}{self.line}"


_TOKENS = {token.value: token for token in Token}


def parse_message(body: bytes) -> Message:
    """Parse a body's header; MessageError if it is not a DC-09 message at all."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise MessageError("format", "message is not ASCII") from None
    match = _HEADER_RE.match(text)
    if match is None:
        raise MessageError("format", f"not a DC-09 message: {text[:60]!r}")
    star, token_text, seq, receiver, line, account, rest = match.groups()
    return Message(
        _TOKENS.get(token_text),
        token_text,
        bool(star),
        seq,
        receiver,
        line,
        account.upper() if account else None,
        rest,
    )


class Content(NamedTuple):
    """The data of a message once decrypted: account, event data, extended data, time."""

    account: str | None
    data: str
    extended: list[str]
    timestamp: datetime | None = None


_ACCOUNT_RE = re.compile(r"[0-9A-Fa-f]{3,16}")
_TIMESTAMP_RE = re.compile(r"_((\d{2}):(\d{2}):(\d{2}),(\d{2})-(\d{2})-(\d{4}))\Z")
#: Timestamps (``HH:MM:SS,MM-DD-YYYY``) recently parsed: a flood carries the same few seconds.
_TIMESTAMPS: dict[str, datetime] = {}


def parse_content(rest: str) -> Content:
    """Split the text after `[`: ``[#acct|]data]`` then ``[x…]`` blocks, then the timestamp."""
    close = rest.find("]")
    if close == -1:
        raise MessageError("format", "message data has no closing ']'")
    data, tail = rest[:close], rest[close + 1 :]
    timestamp = _TIMESTAMPS.get(tail[-19:]) if tail[-20:-19] == "_" else None
    if timestamp is not None:
        tail = tail[:-20]  # a time already seen (panels report the current second)
    elif (match := _TIMESTAMP_RE.search(tail)) is not None:
        try:
            # Built from the groups: strptime is slow, and this runs for every message.
            hour, minute, second, month, day, year = (int(match[n]) for n in range(2, 8))
            timestamp = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            raise MessageError("timestamp", f"timestamp {match[1]!r} is not a date") from None
        if len(_TIMESTAMPS) >= 64:
            _TIMESTAMPS.clear()
        _TIMESTAMPS[match[1]] = timestamp
        tail = tail[: match.start()]
    elif "_" in tail:
        raise MessageError("timestamp", f"timestamp {tail[tail.index('_') :][:30]!r} is malformed")
    extended: list[str] = []
    while tail:
        if not tail.startswith("[") or "]" not in tail:
            raise MessageError("format", f"unexpected text after the data: {tail[:40]!r}")
        end = tail.index("]")
        extended.append(tail[1:end])
        tail = tail[end + 1 :]
    account = None
    if data.startswith("#"):
        account_text, bar, data = data[1:].partition("|")
        if not bar or not _ACCOUNT_RE.fullmatch(account_text):
            raise MessageError("format", "account in the data must be '#<3-16 hex>|'")
        account = account_text.upper()
    return Content(account, data, extended, timestamp)


#: Recent answers' timestamps by the second: a flood's answers carry the same few.
_TIMESTAMP_TEXTS: dict[float, str] = {}


def timestamp_text(at: datetime) -> str:
    """`_HH:MM:SS,MM-DD-YYYY` in UTC."""
    second = at.timestamp() // 1
    text = _TIMESTAMP_TEXTS.get(second)
    if text is None:
        at = at.astimezone(UTC)
        # Formatted by hand: strftime is several times slower, and every answer carries this.
        text = (
            f"_{at.hour:02d}:{at.minute:02d}:{at.second:02d},"
            f"{at.month:02d}-{at.day:02d}-{at.year:04d}"
        )
        if len(_TIMESTAMP_TEXTS) >= 64:
            _TIMESTAMP_TEXTS.clear()
        _TIMESTAMP_TEXTS[second] = text
    return text


def response(
    kind: Response,
    message: Message | None,
    account: str | None = None,
    key: bytes | None = None,
    now: datetime | None = None,
) -> bytes:
    """A framed response, built only from fields the sender used (never a literal "None").

    ACK echoes seq, receiver, line and account; it is encrypted (``*ACK``, with padding and a
    timestamp) when the message was. NAK is never encrypted and carries our time, so the
    sender can correct its clock. DUH is plain.
    """
    now = now or datetime.now(UTC)
    if kind is Response.NAK:
        receiver = (message.receiver if message else None) or "R0"
        line = message.line if message else "L0"
        body = f'"NAK"0000{receiver}{line}A0[]{timestamp_text(now)}'
        return frame(body.encode("ascii"))
    if message is None:
        raise ValueError(f"{kind} answers a message")
    account = account or message.account
    acct = f"#{account}" if account else ""
    head = f'"{kind.value}"{message.echo_fields()}{acct}['
    if kind is Response.ACK and message.encrypted and key is not None:
        head = f'"*{kind.value}"{message.echo_fields()}{acct}['
        return frame((head + crypto.encrypt(key, "]" + timestamp_text(now))).encode("ascii"))
    return frame((head + "]").encode("ascii"))


def ack(message: Message, account: str | None, key: bytes | None, now: datetime) -> bytes:
    """`response(Response.ACK, message, account, key, now)`: a plain one (most of them)
    built in one go, with the CRC and length formatted into the frame at once."""
    if message.encrypted and key is not None:
        return response(Response.ACK, message, account, key, now)
    account = account or message.account
    body = (
        f'"ACK"{message.seq}{message.receiver or ""}{message.line}'
        f"{'#' if account else ''}{account or ''}[]"
    ).encode("ascii")
    return b"\n%04X0%03X%s\r" % (crc16(body), len(body), body)


def is_ack(framed: bytes) -> bool:
    """Whether a framed response is an ACK (plain or encrypted)."""
    return framed.startswith(b'"ACK"', HEADER) or framed.startswith(b'"*ACK"', HEADER)


def encode(
    token: Token,
    seq: int,
    account: str,
    data: str,
    *,
    receiver: str | None = "R0",
    line: str = "L0",
    key: bytes | None = None,
    at: datetime | None = None,
    extended: list[str] | None = None,
) -> bytes:
    """Build a framed message, as a panel sends it (for the simulator, tests and benchmarks)."""
    content = f"#{account}|{data}]" + "".join(f"[{x}]" for x in extended or [])
    if key is not None or at is not None:
        content += timestamp_text(at or datetime.now(UTC))
    star = "*" if key is not None else ""
    head = f'"{star}{token.value}"{seq:04d}{receiver or ""}{line}#{account}['
    body = head + (crypto.encrypt(key, content) if key is not None else content)
    return frame(body.encode("ascii"))


@dataclass(frozen=True)
class Answer:
    """A response as the sender sees it (for clients, tests and benchmarks)."""

    kind: Response
    encrypted: bool
    seq: str
    account: str | None
    timestamp: datetime | None


_ANSWER_RE = re.compile(
    r'"(?P<star>\*?)(?P<kind>ACK|NAK|DUH)"(?P<seq>\d{4})(?:R[0-9A-Fa-f]{1,6})?'
    r"L[0-9A-Fa-f]{1,6}(?:#(?P<account>[0-9A-Fa-f]{3,16})|A0)?\[(?P<rest>.*)\Z",
    re.DOTALL,
)


def parse_answer(body: bytes, key: bytes | None = None) -> Answer:
    """Parse a receiver's response body (decrypting `*ACK` with the key)."""
    match = _ANSWER_RE.match(body.decode("ascii"))
    if match is None:
        raise MessageError("format", f"not a DC-09 response: {body[:60]!r}")
    rest = match["rest"]
    if match["star"]:
        if key is None:
            raise MessageError("key", "an encrypted response needs the key")
        rest = crypto.decrypt_data(key, rest)
        if not rest.startswith("]"):
            rest = "]" + rest.partition("]")[2]
    content = parse_content(rest)
    return Answer(
        kind=Response(match["kind"]),
        encrypted=bool(match["star"]),
        seq=match["seq"],
        account=match["account"],
        timestamp=content.timestamp,
    )
