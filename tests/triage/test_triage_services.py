"""Press-time evidence on the record, on SQLite and PostgreSQL: voice judgements stored without
moving the incident's version, shown, put on the timeline; the writer shows them on joins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helppoint.domain.calls import EndReason
from helppoint.domain.classification import Classification
from helppoint.domain.events import EventType
from helppoint.domain.triage import Judgement, Voice
from helppoint.gateway.batch_commit import Batch, commit_batches
from helppoint.services import incidents as incident_service
from helppoint.services import triage
from helppoint.services.calls import RecordingFile, call_history
from helppoint.services.ingest import ReportedEvent
from helppoint.services.join_updates import JoinUpdates
from helppoint.services.known_units import KnownUnits
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_session_factory
from helppoint.store.uow import UnitOfWork
from tests.conftest import Database

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


class Writer:
    """commit_batches as the writer process runs it, keeping what it published."""

    def __init__(self, database: Database, known: KnownUnits | None) -> None:
        self.factory = make_session_factory(database.engine)
        self.known = known
        self.updates = JoinUpdates(interval=0.0)
        self.published: list[dict[str, Any]] = []

    def store(self, *events: ReportedEvent) -> None:
        uow = UnitOfWork(self.factory, lambda topic, m: self.published.append(m))
        commit_batches(uow, [Batch(list(events), T0)], WINDOW, self.known, self.updates)


def press(unit: str, seq: int) -> ReportedEvent:
    return ReportedEvent(unit, seq, EventType.ACTIVATION, T0, {})


@pytest.fixture
def seeded(database: Database) -> Database:
    seed_demo(database.uow())
    return database


def opened(database: Database) -> int:
    [incident] = incident_service.open_queue(database.uow())
    return int(incident["id"])


def test_a_judgement_is_stored_shown_and_on_the_timeline_without_moving_the_version(
    seeded: Database,
) -> None:
    Writer(seeded, None).store(press("HP-01", 1))
    incident_id = opened(seeded)
    with seeded.uow() as uow:
        version = uow.incidents.get(incident_id)._version  # type: ignore[union-attr]
    published: list[dict[str, Any]] = []
    uow = UnitOfWork(make_session_factory(seeded.engine), lambda t, m: published.append(m))
    view = triage.record_voice(uow, incident_id, Judgement(Voice.SILENT, 0.05))
    assert view is not None and (view["voice"], view["voice_level"]) == ("silent", 0.05)
    assert [(m["voice"], m["voice_level"]) for m in published] == [("silent", 0.05)]
    # The level moves: shown, but the timeline has one line per voice.
    triage.record_voice(seeded.uow(), incident_id, Judgement(Voice.SILENT, 0.2))
    triage.record_voice(seeded.uow(), incident_id, Judgement(Voice.VOICE, 0.7))
    detail = incident_service.incident_detail(seeded.uow(), incident_id)
    assert (detail["voice"], detail["voice_level"]) == ("voice", 0.7)
    judged = [e for e in detail["timeline"] if e["action"] == "evidence.voice_judged"]
    assert [(e["actor"], e["detail"]["voice"]) for e in judged] == [
        ("system:triage", "silent"),
        ("system:triage", "voice"),
    ]
    with seeded.uow() as uow:
        assert uow.incidents.get(incident_id)._version == version  # type: ignore[union-attr]
    # An operator's change made from the version read before the judgements still succeeds.
    incident_service.acknowledge(seeded.uow(), incident_id, "alice")
    view = incident_service.classify(
        seeded.uow(), incident_id, Classification.FALSE_ACCIDENTAL, "alice"
    )
    assert view["voice"] == "voice" and view["state"] == "assessed"


def test_a_closed_incident_takes_no_judgement(seeded: Database) -> None:
    Writer(seeded, None).store(press("HP-02", 1))
    incident_id = opened(seeded)
    incident_service.acknowledge(seeded.uow(), incident_id, "alice")
    incident_service.close(seeded.uow(), incident_id, "alice", "", Classification.FALSE_ACCIDENTAL)
    assert triage.record_voice(seeded.uow(), incident_id, Judgement(Voice.NOISY, 0.5)) is None
    assert incident_service.incident_detail(seeded.uow(), incident_id)["voice"] is None


def test_a_repeat_press_shows_the_stored_judgement_whatever_the_writer_knew(
    seeded: Database,
) -> None:
    known = KnownUnits() if seeded.kind == "sqlite" else None
    writer = Writer(seeded, known)
    writer.store(press("HP-03", 1))
    incident_id = opened(seeded)
    assert writer.published[-1]["voice"] is None
    triage.record_voice(seeded.uow(), incident_id, Judgement(Voice.VOICE, 0.6))
    writer.store(press("HP-03", 2))  # joins: the writer may hold the incident from before
    joined = writer.published[-1]
    assert joined["id"] == incident_id and joined["event_count"] == 2
    assert (joined["voice"], joined["voice_level"]) == ("voice", 0.6)


def test_press_audio_is_a_press_call_with_a_recording_kept_as_evidence(seeded: Database) -> None:
    Writer(seeded, None).store(press("HP-04", 1))
    incident_id = opened(seeded)
    recording = RecordingFile(
        path=f"incident-{incident_id:06d}/press-x.webm",
        started_at=T0,
        ended_at=T0 + timedelta(seconds=20),
        duration=20.0,
        size_bytes=1234,
        sha256="ab" * 32,
        media_type="video/webm",
    )
    detail = triage.record_press_audio(
        seeded.uow(),
        incident_id,
        "HP-04",
        T0,
        EndReason.LISTENED,
        recording,
        timedelta(days=31),
        Judgement(Voice.SILENT, 0.0),
        "server-1",
    )
    assert detail["voice"] == "silent" and detail["sha256"] == "ab" * 32
    history = call_history(seeded.uow(), incident_id)
    [call] = history["calls"]
    assert call["kind"] == "press" and call["operator"] == "system" and not call["talk"]
    assert call["end_reason"] == "listened" and call["detail"].endswith("judged: silent")
    [kept] = history["recordings"]
    assert kept["call_id"] == call["id"]
    assert kept["retain_until"] == (T0 + timedelta(days=31, seconds=20)).isoformat()
    timeline = incident_service.incident_detail(seeded.uow(), incident_id)["timeline"]
    assert [
        e["detail"]["recording_id"] for e in timeline if e["action"] == "evidence.press_audio"
    ] == [kept["id"]]
