"""From SIA DC-03 and Contact ID event codes to DeviceEvents.

Panic, hold-up and medical codes become activations; tamper codes tamper; mains and battery
troubles faults; test reports passing self-tests. Restorals are stored but open nothing.
A code not in these tables is *unknown*: stored, flagged as a fault for the engineers, and
answered DUH so the panel reports that this path does not understand it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from helppoint.domain.events import EventType
from helppoint.gateway.sia.codec import MessageError, Token

A, T, F, S, R = (
    EventType.ACTIVATION,
    EventType.TAMPER,
    EventType.FAULT,
    EventType.SELF_TEST,
    EventType.HEARTBEAT,  # a restoral or report: stored on the record, opens nothing
)

#: SIA DC-03 two-letter codes: (event type, fault or meaning).
SIA_CODES: dict[str, tuple[EventType, str]] = {
    "PA": (A, "panic alarm"),
    "HA": (A, "hold-up alarm"),
    "MA": (A, "medical alarm"),
    "QA": (A, "emergency alarm"),
    "DU": (A, "duress"),
    "PR": (R, "panic restoral"),
    "HR": (R, "hold-up restoral"),
    "MR": (R, "medical restoral"),
    "QR": (R, "emergency restoral"),
    "TA": (T, "tamper alarm"),
    "TR": (R, "tamper restoral"),
    "ES": (T, "expansion device tamper"),
    "AT": (F, "power"),
    "AR": (R, "mains restored"),
    "YT": (F, "battery"),
    "YM": (F, "battery"),
    "YR": (R, "battery restored"),
    "RP": (S, "automatic test"),
    "RX": (S, "manual test"),
    "TX": (S, "test report"),
}

#: Contact ID event codes (qualifier 1 = new event; 3 = restoral; 6 = still present).
CID_CODES: dict[str, tuple[EventType, str]] = {
    "100": (A, "medical alarm"),
    "101": (A, "personal emergency"),
    "120": (A, "panic alarm"),
    "121": (A, "duress"),
    "122": (A, "silent panic"),
    "123": (A, "audible panic"),
    "129": (A, "panic verifier"),
    "137": (T, "tamper"),
    "144": (T, "sensor tamper"),
    "145": (T, "expansion module tamper"),
    "301": (F, "power"),
    "302": (F, "battery"),
    "309": (F, "battery"),
    "311": (F, "battery"),
    "601": (S, "manual test"),
    "602": (S, "periodic test"),
    "603": (S, "periodic RF test"),
}

UNKNOWN_FAULT = "sia_unknown_code"


@dataclass(frozen=True)
class SiaEvent:
    """One event in a DC-09 message, mapped to what helppoint stores."""

    type: EventType
    code: str
    zone: str | None
    known: bool
    payload: dict[str, Any] = field(default_factory=dict)


def _payload(event_type: EventType, code: str, meaning: str, zone: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"code": code, "meaning": meaning}
    if zone is not None:
        payload["zone"] = zone
    if event_type is EventType.FAULT:
        payload["fault"] = meaning
        payload["detail"] = f"SIA code {code}" + (f", zone {zone}" if zone else "")
    if event_type is EventType.SELF_TEST:
        payload["passed"] = True
    return payload


def _unknown(code: str, zone: str | None, source: str) -> SiaEvent:
    detail = f"unknown {source} code {code}" + (f" (zone {zone})" if zone else "")
    return SiaEvent(
        EventType.FAULT,
        code,
        zone,
        False,
        {"code": code, "fault": UNKNOWN_FAULT, "detail": detail, "zone": zone},
    )


_SIA_BLOCK = re.compile(r"(?P<code>[A-Z]{2})(?P<addr>[0-9A-Za-z]*)\Z")


def _zone(text: str | None) -> str | None:
    if not text:
        return None
    return str(int(text)) if text.isdigit() else text


def sia_events(data: str) -> list[SiaEvent]:
    """Events in SIA DC-03 data such as ``Nri1/PA501`` or ``Nid12/ri2/HA3/TA4``."""
    if data.startswith(("N", "O")):
        data = data[1:]
    events: list[SiaEvent] = []
    for block in filter(None, data.split("/")):
        if block[:2] in ("ri", "id", "ti", "pi", "ai", "ph"):
            continue  # area, user, time, … modifiers: kept in the payload's raw text
        match = _SIA_BLOCK.match(block)
        if match is None:
            raise MessageError("format", f"SIA data block {block[:20]!r} is not a code")
        code, zone = match["code"], _zone(match["addr"])
        mapped = SIA_CODES.get(code)
        if mapped is None:
            events.append(_unknown(code, zone, "SIA"))
        else:
            events.append(
                SiaEvent(mapped[0], code, zone, True, _payload(mapped[0], code, mapped[1], zone))
            )
    if not events:
        raise MessageError("format", "SIA data holds no event code")
    return events


_CID_RE = re.compile(r"(?P<q>[136])(?P<code>\d{3}) (?P<group>[0-9A-F]{2}) (?P<zone>[0-9A-F]{3})\Z")


def cid_events(data: str) -> list[SiaEvent]:
    """The event in Contact ID data such as ``1120 01 015`` (qualifier, code, group, zone)."""
    match = _CID_RE.match(data.strip())
    if match is None:
        raise MessageError("format", f"Contact ID data {data[:20]!r} is not 'QEEE GG ZZZ'")
    code, zone = match["code"], _zone(match["zone"])
    mapped = CID_CODES.get(code)
    if mapped is None:
        return [_unknown(code, zone, "Contact ID")]
    event_type, meaning = mapped
    if match["q"] == "3":
        event_type, meaning = R, f"{meaning} restoral"
    payload = _payload(event_type, code, meaning, zone) | {
        "qualifier": match["q"],
        "group": match["group"],
    }
    return [SiaEvent(event_type, code, zone, True, payload)]


@functools.lru_cache(maxsize=4096)
def events_of(token: Token, data: str) -> tuple[SiaEvent, ...]:
    """The events a message's data holds (none for a NULL message); read-only, shared.

    Kept for data seen before: a panel sends the same few codes and zones again and again.
    """
    if token is Token.NULL:
        return ()
    if token is Token.ADM_CID:
        return tuple(cid_events(data))
    return tuple(sia_events(data))
