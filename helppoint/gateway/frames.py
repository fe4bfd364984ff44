"""Parsing and checking device-link frames (see docs/device-protocol.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from helppoint.domain.events import EventType

PROTOCOL_VERSION = 1
MAX_SEQ = 2**63 - 1


class FrameError(ValueError):
    """A frame that breaks the protocol; `code` goes into the error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Hello:
    unit: str
    key: str
    firmware: str = ""
    capabilities: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EventFrame:
    seq: int
    event: EventType
    time: datetime
    payload: dict[str, Any]


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
    """A frame object from the JSON text, or FrameError saying exactly what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FrameError("malformed", f"frame is not valid JSON: {exc.msg} at {exc.pos}") from None
    if not isinstance(data, dict):
        raise FrameError("malformed", "frame must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise FrameError("malformed", "field 'type' must be a string")
    if kind == "hello":
        return _hello(data)
    if kind == "event":
        return _event(data)
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


def _event(data: dict[str, Any]) -> EventFrame:
    seq = data.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_SEQ:
        raise FrameError("malformed", "field 'seq' must be a positive integer")
    raw_type = data.get("event")
    try:
        event = EventType(str(raw_type))
    except ValueError:
        kinds = ", ".join(e.value for e in EventType)
        raise FrameError(
            "malformed", f"field 'event' must be one of {kinds}, not {str(raw_type)[:40]!r}"
        ) from None
    return EventFrame(
        seq=seq, event=event, time=_time(data, "time"), payload=_object(data, "payload")
    )


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
        raise FrameError("malformed", f"field {name!r} must be an ISO 8601 time with UTC offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FrameError(
            "malformed", f"field {name!r}: {value[:40]!r} is not an ISO 8601 time"
        ) from None
    if parsed.tzinfo is None:
        raise FrameError(
            "malformed", f"field {name!r} has no UTC offset; send e.g. 2026-11-25T21:14:05Z"
        )
    return parsed
