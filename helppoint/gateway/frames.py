"""Parsing and checking device-link frames (see docs/device-protocol.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from helppoint.domain.events import EventType, event_digest
from helppoint.gateway.frame_text import TooDeep, read_json
from helppoint.protocol.device_link import MAX_SEQ, PROTOCOL_VERSION, REFUSED_UNKNOWN_EVENT
from helppoint.services.clock import utcnow
from helppoint.services.ingest import REPAIRS_FIELD, ReportedEvent

# (The payload field in which the server notes what it repaired in an event it stores is
# services/ingest.REPAIRS_FIELD.)


class FrameError(ValueError):
    """A frame that breaks the protocol; `code` goes into the error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class EventRefused(FrameError):
    """An event frame with a usable seq that can never be stored (answered `ack` refused)."""

    def __init__(self, seq: int, reason: str, message: str) -> None:
        super().__init__(reason, message)
        self.seq = seq


@dataclass(frozen=True)
class Hello:
    unit: str
    key: str
    firmware: str = ""
    capabilities: list[str] = field(default_factory=list)


@dataclass(slots=True)
class EventFrame:
    """An event as a unit sent it (repaired if need be); read-only by convention: one is made
    per press, and a frozen dataclass takes several times as long to make."""

    seq: int
    event: EventType
    #: None: the unit's time could not be read (see `repairs`).
    time: datetime | None
    payload: dict[str, Any]
    #: What the server had to repair to store the event (empty: nothing), with the unit's
    #: text of a time it could not read: stored in the payload as REPAIRS_FIELD.
    repairs: tuple[str, ...] = ()
    #: For a repaired event: the digest of what the unit sent (see `reported`).
    digest: str = ""

    def reported(self, unit_id: str) -> ReportedEvent:
        """The event to store. A repaired one carries its repairs in its payload, the
        server's time if the unit's could not be read, and the digest of what the unit sent,
        so that its resend is a duplicate whatever the notes say."""
        if not self.repairs:
            assert self.time is not None
            return ReportedEvent(unit_id, self.seq, self.event, self.time, self.payload)
        payload = {**self.payload, REPAIRS_FIELD: list(self.repairs)}
        return ReportedEvent.repaired(
            unit_id, self.seq, self.event, self.time or utcnow(), payload, self.digest
        )


@dataclass(frozen=True)
class HeartbeatFrame:
    time: datetime | None
    status: dict[str, Any]

    @property
    def battery(self) -> float | None:
        """The battery share 0.0-1.0 the unit reported in `status`, if any (checked on parse)."""
        value = self.status.get("battery")
        return float(value) if value is not None else None

    @property
    def mains(self) -> bool | None:
        """Whether mains power is present, if the unit reported it (checked on parse)."""
        value = self.status.get("mains")
        return value if isinstance(value, bool) else None


@dataclass(frozen=True)
class CommandResult:
    id: str
    ok: bool
    detail: str
    #: What a unit applied, in answer to `configure`.
    applied: dict[str, Any] | None = None


@dataclass(frozen=True)
class CallAnswer:
    """The unit's answer to ``call_offer`` (docs/calls.md)."""

    call: str
    ok: bool
    sdp: str
    detail: str
    #: What the unit sends: {"audio": bool, "video": bool}.
    media: dict[str, Any]


@dataclass(frozen=True)
class CallEnd:
    """The unit ended a call (its media failed, or it is shutting down)."""

    call: str
    reason: str


Frame = Hello | EventFrame | HeartbeatFrame | CommandResult | CallAnswer | CallEnd
MAX_SDP = 32 * 1024


def parse_frame(text: str) -> Frame:
    """A frame object from the JSON text, or FrameError saying exactly what is wrong.

    Values no store can hold (lone surrogates, NUL, NaN …) are repaired (frame_text.py); an
    event notes what was repaired. EventRefused for an event that can never be stored.
    """
    try:
        data, repaired = read_json(text)
    except json.JSONDecodeError as exc:
        raise FrameError("malformed", f"frame is not valid JSON: {exc.msg} at {exc.pos}") from None
    except TooDeep as exc:
        raise FrameError("malformed", str(exc)) from None
    if not isinstance(data, dict):
        raise FrameError("malformed", "frame must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise FrameError("malformed", "field 'type' must be a string")
    if kind == "hello":
        return _hello(data)
    if kind == "event":
        return _event(data, repaired)
    if kind == "heartbeat":
        time = _time(data, "time") if data.get("time") is not None else None
        return HeartbeatFrame(time=time, status=_power(_object(data, "status")))
    if kind == "command_result":
        return CommandResult(
            id=_string(data, "id", 100),
            ok=_bool(data, "ok"),
            detail=_string(data, "detail", 1000, required=False),
            applied=_object(data, "applied") if data.get("applied") is not None else None,
        )
    if kind == "call_answer":
        ok = _bool(data, "ok")
        sdp = _string(data, "sdp", MAX_SDP, required=ok)
        return CallAnswer(
            call=_string(data, "call", 100),
            ok=ok,
            sdp=sdp,
            detail=_string(data, "detail", 1000, required=False),
            media=_object(data, "media"),
        )
    if kind == "call_end":
        return CallEnd(
            call=_string(data, "call", 100), reason=_string(data, "reason", 200, required=False)
        )
    raise FrameError("unknown_type", f"unknown frame type {kind[:40]!r}")


def _hello(data: dict[str, Any]) -> Hello:
    protocol = data.get("protocol", PROTOCOL_VERSION)
    if protocol != PROTOCOL_VERSION:
        raise FrameError(
            "malformed", f"protocol {protocol!r} is not supported; this server speaks 1"
        )
    caps = data.get("capabilities", [])
    if not isinstance(caps, list) or not all(isinstance(c, str) and len(c) <= 40 for c in caps):
        raise FrameError("malformed", "field 'capabilities' must be a list of short strings")
    return Hello(
        unit=_string(data, "unit", 64),
        key=_string(data, "key", 200),
        firmware=_string(data, "firmware", 100, required=False),
        capabilities=caps[:32],
    )


def _event(data: dict[str, Any], repaired: list[str]) -> EventFrame:
    """An event in a form that stores: a press with a garbled field is still a press.

    Only a missing seq (nothing to answer) is malformed, and only an unknown kind is refused;
    a time or payload that cannot be used is repaired, and the repair noted.
    """
    seq = data.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_SEQ:
        raise FrameError("malformed", "field 'seq' must be a positive integer")
    raw_type = data.get("event")
    try:
        event = EventType(raw_type) if isinstance(raw_type, str) else None
    except ValueError:
        event = None
    if event is None:
        kinds = ", ".join(e.value for e in EventType)
        raise EventRefused(
            seq,
            REFUSED_UNKNOWN_EVENT,
            f"field 'event' must be one of {kinds}, not {_shown(raw_type)}; "
            "this event can never be stored: drop it",
        )
    try:
        time: datetime | None = _time(data, "time")
    except FrameError as exc:
        time = None
        repaired = [*repaired, f"time: {exc}; the server's time of receipt is kept instead"]
    payload = data.get("payload")
    if payload is None:
        payload = {}
    elif type(payload) is not dict:
        return _repaired(seq, event, time, data, payload, repaired)
    if not repaired:
        return EventFrame(seq, event, time, payload)
    return _repaired(seq, event, time, data, payload, repaired)


def _repaired(
    seq: int,
    event: EventType,
    time: datetime | None,
    data: dict[str, Any],
    payload: Any,
    repairs: list[str],
) -> EventFrame:
    sent_payload: dict[str, Any] = payload
    if not isinstance(payload, dict):
        repairs = [*repairs, f"payload: not a JSON object, so dropped: {_shown(payload)}"]
        payload, sent_payload = {}, {"": payload}
    # What the unit sent, as far as it can be encoded: its time as it wrote it, its payload
    # as repaired (a repaired string or number stays the same for a resend).
    sent_time = time.isoformat() if time is not None else json.dumps(data.get("time"))
    return EventFrame(
        seq=seq,
        event=event,
        time=time,
        payload=payload,
        repairs=tuple(repairs),
        digest=event_digest(event.value, sent_time, sent_payload),
    )


def _shown(value: Any) -> str:
    """A short JSON rendering of a value for a message or a note."""
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _power(status: dict[str, Any]) -> dict[str, Any]:
    """A heartbeat's status, with its optional power fields checked."""
    battery = status.get("battery")
    if battery is not None and (
        not isinstance(battery, int | float) or isinstance(battery, bool) or not 0 <= battery <= 1
    ):
        raise FrameError("malformed", "status field 'battery' must be a number from 0.0 to 1.0")
    mains = status.get("mains")
    if mains is not None and not isinstance(mains, bool):
        raise FrameError("malformed", "status field 'mains' must be true or false")
    return status


def _string(data: dict[str, Any], name: str, max_len: int, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise FrameError("malformed", f"field {name!r} must be a non-empty string")
    if len(value) > max_len:
        raise FrameError("malformed", f"field {name!r} is longer than {max_len} characters")
    return value


def _bool(data: dict[str, Any], name: str) -> bool:
    value = data.get(name)
    if not isinstance(value, bool):
        raise FrameError("malformed", f"field {name!r} must be true or false")
    return value


def _object(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FrameError("malformed", f"field {name!r} must be a JSON object")
    return value


def _time(data: dict[str, Any], name: str) -> datetime:
    value = data.get(name)
    if not isinstance(value, str):
        raise FrameError(
            "malformed",
            f"field {name!r} must be an ISO 8601 time with UTC offset, not {_shown(value)}",
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FrameError(
            "malformed", f"field {name!r}: {_shown(value)} is not an ISO 8601 time"
        ) from None
    if parsed.tzinfo is None:
        raise FrameError(
            "malformed",
            f"field {name!r}: {_shown(value)} has no UTC offset; send e.g. 2026-11-25T21:14:05Z",
        )
    if not 1 < parsed.year < 9999:
        try:
            parsed.astimezone(UTC)
        except OverflowError:  # year 1 or 9999 with an offset that crosses the range
            raise FrameError(
                "malformed", f"field {name!r}: {_shown(value)} is out of range in UTC"
            ) from None
    return parsed
