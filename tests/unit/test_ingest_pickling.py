"""Events and results cross the pipe to the writer process as plain values: nothing changes."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helppoint.domain.events import EventType, event_digest
from helppoint.gateway.batch_commit import Batch
from helppoint.services.ingest import IngestResult, Outcome, ReportedEvent

PAYLOAD = {"code": "PA", "meaning": "Panic alarm", "zone": "1", "sia": {"seq": 12}}


def round_trip(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


TIMES = [
    datetime(2026, 12, 2, 2, 0, 0, 123456, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before the epoch
    datetime(2026, 6, 1, 3, 0, 0, 1, tzinfo=timezone(timedelta(hours=1))),  # its own offset
    datetime(2026, 6, 1, 3, 0, 0, tzinfo=timezone(timedelta(0), "Z")),  # a named one
    datetime(2026, 6, 1, 3, 0, 0),  # naive
    datetime.fromisoformat("2026-06-01T03:00:00Z"),
]


@pytest.mark.parametrize("at", TIMES)
def test_an_event_is_the_same_event_after_the_pipe(at: datetime) -> None:
    for kind in EventType:
        event = ReportedEvent("SIA-0001", 7, kind, at, PAYLOAD)
        back = round_trip(event)
        assert back == event
        assert back.type is kind
        assert back.unit_time.isoformat() == at.isoformat()
        assert back.unit_time.utcoffset() == at.utcoffset()
        # The digest travels with it, and is the one the event's content gives.
        assert back.digest == event_digest(kind.value, at.isoformat(), PAYLOAD)
        assert "digest" in back.__dict__


def test_a_batch_of_them_is_the_same_batch_after_the_pipe() -> None:
    # A batch crosses as columns of plain values (services/ingest.py pack_events).
    events = [
        ReportedEvent(f"SIA-{n:04d}", n, kind, at, PAYLOAD | {"n": n})
        for n, (at, kind) in enumerate((at, kind) for at in TIMES for kind in EventType)
    ]
    back = round_trip(Batch(events, TIMES[0], links=[0] * len(events), number=3, answered=2))
    assert back.events == events
    for event, again in zip(events, back.events, strict=True):
        assert again.type is event.type
        assert again.unit_time.isoformat() == event.unit_time.isoformat()
        assert again.unit_time.utcoffset() == event.unit_time.utcoffset()
        assert again.digest == event.digest and "digest" in again.__dict__
    assert (back.number, back.answered, back.links) == (3, 2, [0] * len(events))


@given(st.datetimes(timezones=st.just(UTC)), st.integers(min_value=0, max_value=2**62))
def test_any_utc_time_and_seq_survive_exactly(at: datetime, seq: int) -> None:
    event = ReportedEvent("HP-01", seq, EventType.ACTIVATION, at, {})
    back = round_trip(event)
    assert (back.seq, back.unit_time, back.unit_time.isoformat()) == (seq, at, at.isoformat())
    assert back.digest == event.digest


def test_results_are_the_same_after_the_pipe() -> None:
    for outcome in Outcome:
        for incident in (None, 42):
            result = IngestResult("HP-01", 3, outcome, 5, incident)
            back = round_trip(result)
            assert back == result
            assert back.outcome is outcome
