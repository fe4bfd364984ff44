"""A DC-09 event's digest and its way to the writer process, worked out the faster way, are
exactly what the general way gives (issue 17: the receiver's CPU per message)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest

from helppoint.domain.events import EventType, event_digest, string_event_digest
from helppoint.domain.sia_code_tables import CONTACT_ID, SIA_DC03
from helppoint.domain.sia_codes import ALL_HANDLINGS, CATEGORIES, Handling
from helppoint.gateway.batch_commit import Batch
from helppoint.gateway.sia.codec import Token
from helppoint.gateway.sia.events import Handlings, events_of
from helppoint.services.ingest import ReportedEvent
from helppoint.services.supervision import PowerReading

AT = datetime(2026, 12, 6, 18, 0, 5, tzinfo=UTC)


def _sia(data: str, seq: str = "0042") -> dict[str, str]:
    # As gateway/sia/storing.py adds it to every event of a message.
    return {"account": "A1B2", "seq": seq, "token": "SIA-DCS", "data": data, "digest": "ab" * 16}


def _handlings(handling: Handling) -> Handlings:
    return Handlings(
        {category: handling for category, rule in CATEGORIES.items() if handling in rule.allowed}
    )


@pytest.mark.parametrize("handling", ALL_HANDLINGS)
def test_every_code_of_the_tables_has_the_same_digest_either_way(handling: Handling) -> None:
    handlings = _handlings(handling)
    datas = [(Token.SIA_DCS, f"Nri1/{code}7") for code in SIA_DC03]
    datas += [(Token.SIA_DCS, f"Nid12/ri2/{code}") for code in list(SIA_DC03)[:20]]
    datas += [
        (Token.ADM_CID, f"{qualifier}{code} 01 015") for code in CONTACT_ID for qualifier in "136"
    ]
    datas += [(Token.SIA_DCS, "NZZ9"), (Token.ADM_CID, "1999 00 000")]  # not in the tables
    for token, data in datas:
        for event in events_of(token, data, handlings):
            payload = event.payload | {"sia": _sia(data)}
            fast = ReportedEvent.of_strings("SIA-P0001", 7, event.type, AT, payload)
            slow = ReportedEvent("SIA-P0001", 7, event.type, AT, payload)
            assert fast == slow
            assert fast.digest == slow.digest, (token, data)


def test_text_that_is_not_ascii_is_escaped_as_the_general_way_does() -> None:
    payload = {"code": "PA", "meaning": "Überfall — Notruf", "zone": "1", "unmapped": True}
    payload |= {"sia": _sia("Nri1/PA1")}
    time = AT.isoformat()
    assert string_event_digest("activation", time, payload) == event_digest(
        "activation", time, payload
    )


def test_a_batch_reaches_the_writer_process_as_it_was_made() -> None:
    berlin = timezone(timedelta(hours=1))
    events = [
        ReportedEvent.of_strings(
            f"SIA-P{n:04d}", n, EventType.ACTIVATION, AT, {"code": "PA", "sia": _sia(str(n))}
        )
        for n in range(5)
    ]
    events.append(ReportedEvent("U-7", 9, EventType.HEARTBEAT, AT.astimezone(berlin), {}))
    events.append(ReportedEvent("U-8", 1, EventType.FAULT, AT + timedelta(microseconds=7)))
    batch = Batch(
        events,
        AT,
        touched=["U-9"],
        power={"U-9": PowerReading(0.5, True)},
        links=[0, 0, 0, 0, 0, 3, 4],
        number=12,
        answered=11,
    )
    again = pickle.loads(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
    assert again == batch
    assert [e.digest for e in again.events] == [e.digest for e in events]
    assert [e.unit_time.utcoffset() for e in again.events] == [
        e.unit_time.utcoffset() for e in events
    ]
    assert all(type(e.type) is EventType for e in again.events)
