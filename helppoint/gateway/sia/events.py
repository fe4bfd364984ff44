"""From SIA DC-03 and Contact ID event codes to DeviceEvents.

Every well-formed code is stored: its category (`domain/sia_codes.py`, from the published code
tables) and the admin's handling of that category decide what it becomes. Handled as an
incident, an alarm is an activation, a tamper a tamper, a trouble a fault (each opens an
incident at its priority); handled as supervision, a test report is a passed self-test and
anything else a maintenance ticket without an incident; handled as a log entry, it is stored
on the unit's record only. A code missing from the tables is stored too, flagged `unmapped`
(and by default a fault for the engineers). Only data that cannot be parsed at all is refused.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from helppoint.domain.events import EventType, Priority
from helppoint.domain.sia_codes import (
    CATEGORIES,
    Category,
    CodeMeaning,
    Handling,
    contact_id_code,
    sia_code,
)
from helppoint.gateway.sia.codec import MessageError, Token

#: The maintenance fault of a code missing from the published tables.
UNKNOWN_FAULT = "sia_unknown_code"

_INCIDENT_TYPES = {
    Priority.ACTIVATION: EventType.ACTIVATION,
    Priority.TAMPER: EventType.TAMPER,
    Priority.FAULT: EventType.FAULT,
}


class Handlings:
    """How each category is handled now: the admin's choices over the defaults.

    Hashed by identity (cheap, for the cache of `events_of`): the receiver keeps one object
    until the choices change.
    """

    __slots__ = ("_of",)

    def __init__(self, chosen: Mapping[Category, Handling] | None = None) -> None:
        self._of = {category: rule.default for category, rule in CATEGORIES.items()}
        for category, handling in (chosen or {}).items():
            if handling in CATEGORIES[category].allowed:
                self._of[category] = handling

    def __getitem__(self, category: Category) -> Handling:
        return self._of[category]

    def same_as(self, other: Handlings) -> bool:
        """Whether both hold the same choices."""
        return self._of == other._of


DEFAULT_HANDLINGS = Handlings()


@dataclass(frozen=True)
class SiaEvent:
    """One event in a DC-09 message, mapped to what helppoint stores."""

    type: EventType
    code: str
    zone: str | None
    category: Category
    #: False for a code missing from the published tables.
    mapped: bool
    payload: dict[str, Any] = field(default_factory=dict)


def _event(
    meaning: CodeMeaning,
    code: str,
    zone: str | None,
    handling: Handling,
    source: str,
    extra: dict[str, Any] | None = None,
) -> SiaEvent:
    category = meaning.category
    payload: dict[str, Any] = {
        "code": code,
        "meaning": meaning.text,
        "category": category.value,
        "handling": handling.value,
    }
    if zone is not None:
        payload["zone"] = zone
    if not meaning.mapped:
        payload["unmapped"] = True
    if extra:
        payload |= extra
    priority = CATEGORIES[category].priority
    if handling is Handling.INCIDENT and priority is not None:
        event_type = _INCIDENT_TYPES[priority]
    elif handling is Handling.SUPERVISION and category is Category.TEST:
        event_type = EventType.SELF_TEST
        payload["passed"] = True
    elif handling is Handling.SUPERVISION:
        event_type = EventType.TAMPER if category is Category.TAMPER else EventType.FAULT
    else:
        event_type = EventType.HEARTBEAT  # stored on the record, opens nothing
    detail = f"{source} code {code}" + (f", zone {zone}" if zone else "")
    if event_type is EventType.FAULT:
        payload["fault"] = meaning.text[:64] if meaning.mapped else UNKNOWN_FAULT
        payload["detail"] = f"{meaning.text} ({detail})" if meaning.mapped else detail
    elif event_type is EventType.TAMPER:
        payload["detail"] = f"{meaning.text} ({detail})"
    return SiaEvent(event_type, code, zone, category, meaning.mapped, payload)


#: A data block: an event code (two capitals) and its address (zone, user, area …).
_SIA_BLOCK = re.compile(r"(?P<code>[A-Z]{2})(?P<addr>[0-9A-Za-z]*)\Z")
#: A modifier block: two lower-case letters and its value (ri area, id user, ti time …).
_MODIFIER = re.compile(r"[a-z]{2}")


def _zone(text: str | None) -> str | None:
    if not text:
        return None
    return str(int(text)) if text.isdigit() else text


def sia_events(data: str, handlings: Handlings = DEFAULT_HANDLINGS) -> list[SiaEvent]:
    """Events in SIA DC-03 data such as ``Nri1/PA501`` or ``Nid12/ri2/HA3/TA4``."""
    if data.startswith(("N", "O")):
        data = data[1:]
    events: list[SiaEvent] = []
    for block in filter(None, data.split("/")):
        if _MODIFIER.match(block):
            continue  # area, user, time … modifiers: kept in the payload's raw data
        match = _SIA_BLOCK.match(block)
        if match is None:
            raise MessageError("format", f"SIA data block {block[:20]!r} is not a code")
        code = match["code"]
        meaning = sia_code(code)
        events.append(
            _event(meaning, code, _zone(match["addr"]), handlings[meaning.category], "SIA")
        )
    if not events:
        raise MessageError("format", "SIA data holds no event code")
    return events


_CID_RE = re.compile(r"(?P<q>[136])(?P<code>\d{3}) (?P<group>[0-9A-F]{2}) (?P<zone>[0-9A-F]{3})\Z")


def cid_events(data: str, handlings: Handlings = DEFAULT_HANDLINGS) -> list[SiaEvent]:
    """The event in Contact ID data such as ``1120 01 015`` (qualifier, code, group, zone)."""
    match = _CID_RE.match(data.strip())
    if match is None:
        raise MessageError("format", f"Contact ID data {data[:20]!r} is not 'QEEE GG ZZZ'")
    code, zone = match["code"], _zone(match["zone"])
    meaning = contact_id_code(match["q"], code)
    extra = {"qualifier": match["q"], "group": match["group"]}
    return [_event(meaning, code, zone, handlings[meaning.category], "Contact ID", extra)]


@functools.lru_cache(maxsize=4096)
def events_of(
    token: Token, data: str, handlings: Handlings = DEFAULT_HANDLINGS
) -> tuple[SiaEvent, ...]:
    """The events a message's data holds (none for a NULL message); read-only, shared.

    Kept for data seen before: a panel sends the same few codes and zones again and again.
    """
    if token is Token.NULL:
        return ()
    if token is Token.ADM_CID:
        return tuple(cid_events(data, handlings))
    return tuple(sia_events(data, handlings))
