"""Calls and recordings on the record, on SQLite and PostgreSQL: state, retention, evidence hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helppoint.domain.calls import EndReason
from helppoint.domain.classification import Classification
from helppoint.domain.errors import InvalidInput, InvalidTransition, NotFound
from helppoint.domain.events import EventType
from helppoint.services import calls as svc
from helppoint.services import incidents
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo

T0 = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
RETENTION = timedelta(days=31)


@pytest.fixture
def seeded(database: Any) -> Any:
    seed_demo(database.uow())
    return database


def acknowledged_incident(database: Any, unit: str = "HP-01") -> int:
    uow = database.uow()
    with uow:
        [result] = handle_device_events(
            uow,
            [ReportedEvent(unit, 1, EventType.ACTIVATION, T0, {})],
            datetime.now(UTC),
            timedelta(minutes=5),
        )
        uow.commit()
    assert result.incident_id is not None
    incidents.acknowledge(database.uow(), result.incident_id, "olive")
    return result.incident_id


def recorded_call(
    database: Any, directory: Path, ended: datetime, name: str = "a.webm", unit: str = "HP-01"
) -> int:
    """A finished call (of the unit's incident) with a recording file; the recording's id."""
    incident_id = acknowledged_incident(database, unit)
    call = svc.call_started(database.uow(), incident_id, "olive", talk=True, video=True, detail="")
    (directory / name).write_bytes(b"recorded media")
    svc.call_ended(
        database.uow(),
        call["id"],
        EndReason.HANGUP,
        "olive",
        svc.RecordingFile(
            name, ended - timedelta(seconds=30), ended, 30.0, 14, "ab" * 32, "video/webm"
        ),
        RETENTION,
    )
    [recording] = svc.call_history(database.uow(), incident_id)["recordings"]
    return int(recording["id"])


def actions(database: Any, incident_id: int | None = None) -> list[str]:
    with database.uow() as uow:
        rows, _ = uow.audit.search(limit=200)
        return [r.action for r in rows if incident_id is None or r.incident_id == incident_id]


def test_a_call_moves_the_incident_in_and_out_of_in_call_and_is_audited(seeded: Any) -> None:
    incident_id = acknowledged_incident(seeded)
    call = svc.call_started(
        seeded.uow(), incident_id, "olive", talk=False, video=False, detail="listen only"
    )
    assert call["active"] and not call["talk"] and call["detail"] == "listen only"
    detail = incidents.incident_detail(seeded.uow(), incident_id)
    assert detail["state"] == "in_call" and detail["call_started_at"]
    ended = svc.call_ended(seeded.uow(), call["id"], EndReason.UNIT_LOST, "system", None, RETENTION)
    assert ended["end_reason"] == "unit_lost" and not ended["active"]
    assert incidents.incident_detail(seeded.uow(), incident_id)["state"] == "acknowledged"
    assert {"call.started", "call.ended"} <= set(actions(seeded, incident_id))
    assert svc.call_history(seeded.uow(), incident_id)["recordings"] == []


def test_a_call_after_classification_returns_to_assessed_and_escalated_stays(seeded: Any) -> None:
    incident_id = acknowledged_incident(seeded)
    incidents.classify(seeded.uow(), incident_id, Classification.CONCERN, "olive")
    call = svc.call_started(seeded.uow(), incident_id, "olive", talk=True, video=True, detail="")
    assert incidents.incident_detail(seeded.uow(), incident_id)["state"] == "in_call"
    # Classifying during the call is allowed; the call itself goes on.
    incidents.classify(seeded.uow(), incident_id, Classification.CONCERN, "olive")
    svc.call_ended(seeded.uow(), call["id"], EndReason.HANGUP, "olive", None, RETENTION)
    assert incidents.incident_detail(seeded.uow(), incident_id)["state"] == "assessed"


def test_no_call_before_acknowledging_or_after_closing(seeded: Any) -> None:
    uow = seeded.uow()
    with uow:
        [result] = handle_device_events(
            uow, [ReportedEvent("HP-02", 1, EventType.ACTIVATION, T0, {})], T0, timedelta(minutes=5)
        )
        uow.commit()
    assert result.incident_id is not None
    with pytest.raises(InvalidTransition, match="acknowledged before answering"):
        svc.call_target(seeded.uow(), result.incident_id)
    with pytest.raises(NotFound):
        svc.call_target(seeded.uow(), 999_999)
    incidents.acknowledge(seeded.uow(), result.incident_id, "olive")
    incidents.close(seeded.uow(), result.incident_id, "olive", "test", Classification.FALSE_TEST)
    with pytest.raises(InvalidTransition, match="closed"):
        svc.call_target(seeded.uow(), result.incident_id)


def test_retention_deletes_old_recordings_but_never_held_ones(seeded: Any, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    old = recorded_call(seeded, tmp_path, now - timedelta(days=40), "old.webm", "HP-01")
    held = recorded_call(seeded, tmp_path, now - timedelta(days=40), "held.webm", "HP-02")
    recent = recorded_call(seeded, tmp_path, now - timedelta(days=2), "recent.webm", "HP-03")
    view = svc.hold_recording(seeded.uow(), held, "sue", "police request NN/1234/26")
    assert view["held"] and view["held_by"] == "sue"

    assert svc.purge_recordings(seeded.uow, tmp_path) == 1
    assert not (tmp_path / "old.webm").exists()
    assert (tmp_path / "held.webm").exists() and (tmp_path / "recent.webm").exists()
    with pytest.raises(NotFound, match="deleted at the end of its retention"):
        svc.open_recording(seeded.uow(), old, "olive", "recording.played")
    assert svc.purge_recordings(seeded.uow, tmp_path) == 0  # nothing more is due

    # Released, the held recording is past retention and goes at the next sweep.
    svc.release_recording(seeded.uow(), held, "sue")
    assert svc.purge_recordings(seeded.uow, tmp_path) == 1
    assert not (tmp_path / "held.webm").exists()
    assert svc.open_recording(seeded.uow(), recent, "olive", "recording.played").available
    trail = actions(seeded)
    assert trail.count("recording.purged") == 2
    assert {"recording.held", "recording.released", "recording.played"} <= set(trail)


def test_hold_rules(seeded: Any, tmp_path: Path) -> None:
    recording = recorded_call(seeded, tmp_path, datetime.now(UTC))
    with pytest.raises(InvalidInput, match="needs a reason"):
        svc.hold_recording(seeded.uow(), recording, "sue", "   ")
    with pytest.raises(InvalidTransition, match="not on hold"):
        svc.release_recording(seeded.uow(), recording, "sue")
    svc.hold_recording(seeded.uow(), recording, "sue", "court case")
    with pytest.raises(InvalidTransition, match="already on hold"):
        svc.hold_recording(seeded.uow(), recording, "sam", "again")
    with pytest.raises(NotFound):
        svc.hold_recording(seeded.uow(), 424242, "sue", "x")


def test_verify_finds_changed_and_missing_files(seeded: Any, tmp_path: Path) -> None:
    import hashlib

    first = recorded_call(seeded, tmp_path, datetime.now(UTC), "one.webm")
    checks = svc.verify_recordings(seeded.uow(), tmp_path)
    # The stored checksum above is made up, so the file does not match it.
    assert [(c.recording_id, c.problem) for c in checks] == [
        (first, "checksum does not match: the file was changed")
    ]
    with seeded.uow() as uow:
        stored = uow.calls.get_recording(first)
        assert stored is not None
        stored.sha256 = hashlib.sha256(b"recorded media").hexdigest()
        uow.commit()
    assert [c.problem for c in svc.verify_recordings(seeded.uow(), tmp_path)] == [""]
    (tmp_path / "one.webm").unlink()
    assert [c.problem for c in svc.verify_recordings(seeded.uow(), tmp_path)] == ["file missing"]


def test_calls_left_open_by_a_stopped_server_are_ended(seeded: Any) -> None:
    incident_id = acknowledged_incident(seeded)
    svc.call_started(
        seeded.uow(), incident_id, "olive", talk=True, video=True, detail="", server="p1"
    )
    # A call relayed by a live process (of a cluster) is left alone …
    assert svc.end_stale_calls(seeded.uow(), alive={"p1", "p2"}) == 0
    # … and ended once its process is gone.
    assert svc.end_stale_calls(seeded.uow(), alive={"p2"}) == 1
    [call] = svc.call_history(seeded.uow(), incident_id)["calls"]
    assert call["end_reason"] == "server_stopped"
    assert incidents.incident_detail(seeded.uow(), incident_id)["state"] == "acknowledged"
    assert svc.end_stale_calls(seeded.uow()) == 0


def test_the_end_of_a_replaced_call_does_not_end_the_new_one(seeded: Any) -> None:
    incident_id = acknowledged_incident(seeded)
    first = svc.call_started(seeded.uow(), incident_id, "olive", talk=True, video=True, detail="")
    svc.call_started(seeded.uow(), incident_id, "olive", talk=True, video=True, detail="")
    svc.call_ended(seeded.uow(), first["id"], EndReason.UNIT_LOST, "system", None, RETENTION)
    assert incidents.incident_detail(seeded.uow(), incident_id)["state"] == "in_call"
