"""Use cases of calls and their recordings: start, end, evidence hold, playback, retention.

The media itself is handled by helppoint/calls/hub.py; these functions keep the record: the
call's times and what worked, the incident's state (in_call), the recording's checksum and
retention, and an audit entry for everything a person does with a recording.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from helppoint.domain.calls import Call, EndReason, Recording, retain_until
from helppoint.domain.errors import InvalidTransition, NotFound
from helppoint.domain.model import AuditEntry, Incident, IncidentState
from helppoint.services.clock import utcnow
from helppoint.services.incidents import load_for_update, record_change
from helppoint.services.views import iso
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Incident states in which an operator may (re)start a call.
CALLABLE = frozenset(
    {
        IncidentState.ACKNOWLEDGED,
        IncidentState.IN_CALL,
        IncidentState.ASSESSED,
        IncidentState.ESCALATED,
    }
)


@dataclass(frozen=True)
class CallTarget:
    """What the hub needs to know to call about an incident."""

    incident_id: int
    unit_id: str
    ref: str


def call_target(uow: UnitOfWork, incident_id: int) -> CallTarget:
    """The unit to call for an incident; InvalidTransition if the incident cannot take a call."""
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        _check_callable(incident)
        assert incident.id is not None
        return CallTarget(incident.id, incident.unit_id, incident.ref)


def _check_callable(incident: Incident) -> None:
    if incident.state is IncidentState.NEW:
        raise InvalidTransition(f"{incident.ref} must be acknowledged before answering the call")
    if incident.state not in CALLABLE:
        raise InvalidTransition(f"{incident.ref} is {incident.state.value}; no call is possible")


def call_started(
    uow: UnitOfWork,
    incident_id: int,
    operator: str,
    *,
    talk: bool,
    video: bool,
    detail: str,
    address: str | None = None,
    server: str = "",
) -> dict[str, Any]:
    """Record a call whose media is set up; the incident becomes in_call where it can."""
    now = utcnow()
    with uow:
        incident = load_for_update(uow, incident_id)
        _check_callable(incident)
        call = Call(
            incident_id=incident_id,
            unit_id=incident.unit_id,
            operator=operator,
            started_at=now,
            talk=talk,
            video=video,
            detail=detail,
            server=server,
        )
        call.connected(now)
        uow.calls.add_call(call)
        # Escalated incidents stay escalated: the operator may still talk to the caller
        # while the police are on their way.
        if incident.state in (IncidentState.ACKNOWLEDGED, IncidentState.ASSESSED):
            incident.start_call(now)
        uow.flush()
        record_change(
            uow,
            incident,
            operator,
            "call.started",
            address,
            call_id=call.id,
            talk=talk,
            video=video,
            detail=detail,
        )
        uow.commit()
        return call_view(call)


@dataclass(frozen=True)
class RecordingFile:
    """A finished recording file to put on the record."""

    path: str
    started_at: datetime
    ended_at: datetime
    duration: float
    size_bytes: int
    sha256: str
    media_type: str


def call_ended(
    uow: UnitOfWork,
    call_id: int,
    reason: EndReason,
    actor: str,
    recording: RecordingFile | None,
    retention: timedelta,
    address: str | None = None,
) -> dict[str, Any]:
    """Record the end of a call and its recording; the incident leaves in_call."""
    now = utcnow()
    with uow:
        calls = uow.calls
        call = calls.get_call(call_id)
        if call is None:
            raise NotFound(f"call {call_id} does not exist")
        incident = load_for_update(uow, call.incident_id)
        if call.active:
            call.end(reason, now)
        # A call that replaced this one (re-established) may already be up: stay in_call then.
        still_talking = any(c.active for c in calls.calls_of(call.incident_id) if c is not call)
        if incident.state is IncidentState.IN_CALL and not still_talking:
            incident.end_call()
        detail: dict[str, Any] = {"call_id": call.id, "reason": reason.value}
        if recording is not None:
            stored = Recording(
                call_id=call_id,
                incident_id=call.incident_id,
                path=recording.path,
                started_at=recording.started_at,
                ended_at=recording.ended_at,
                duration=recording.duration,
                size_bytes=recording.size_bytes,
                sha256=recording.sha256,
                media_type=recording.media_type,
                retain_until=retain_until(recording.ended_at, retention),
            )
            calls.add_recording(stored)
            uow.flush()
            detail |= {"recording_id": stored.id, "sha256": recording.sha256}
        record_change(uow, incident, actor, "call.ended", address, **detail)
        uow.commit()
        return call_view(call)


def end_stale_calls(uow: UnitOfWork, alive: Collection[str] = ()) -> int:
    """Mark calls left open by a server process that stopped as ended (their media died with
    it); calls relayed by a process in `alive` are left alone."""
    with uow:
        stale = [c for c in uow.calls.open_calls() if c.server not in alive]
        for call in stale:
            call.end(EndReason.SERVER_STOPPED, utcnow())
            incident = uow.incidents.get(call.incident_id)
            if incident is not None and incident.state is IncidentState.IN_CALL:
                incident.end_call()
                record_change(
                    uow,
                    incident,
                    "system",
                    "call.ended",
                    None,
                    call_id=call.id,
                    reason=EndReason.SERVER_STOPPED.value,
                )
        uow.commit()
        return len(stale)


def call_history(uow: UnitOfWork, incident_id: int) -> dict[str, Any]:
    """An incident's calls and recordings."""
    with uow:
        if uow.incidents.get(incident_id) is None:
            raise NotFound(f"incident {incident_id} does not exist")
        calls = uow.calls
        return {
            "calls": [call_view(c) for c in calls.calls_of(incident_id)],
            "recordings": [recording_view(r) for r in calls.recordings_of(incident_id)],
        }


def open_recording(
    uow: UnitOfWork,
    recording_id: int,
    reader: str,
    action: str,
    address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Recording:
    """A recording to play, stream or export; the access is written to the audit trail first
    (with `detail`, e.g. the range streamed)."""
    if action not in ("recording.played", "recording.streamed", "recording.exported"):
        raise ValueError(f"unknown recording access {action!r}")
    with uow:
        recording = uow.calls.get_recording(recording_id)
        if recording is None:
            raise NotFound(f"recording {recording_id} does not exist")
        if not recording.available:
            raise NotFound(
                f"recording {recording_id} was deleted at the end of its retention "
                f"({iso(recording.purged_at)})"
            )
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=reader,
                action=action,
                incident_id=recording.incident_id,
                detail={"recording_id": recording_id, "sha256": recording.sha256, **(detail or {})},
                address=address,
            )
        )
        uow.commit()
        return recording


def hold_recording(
    uow: UnitOfWork, recording_id: int, supervisor: str, reason: str, address: str | None = None
) -> dict[str, Any]:
    """Place an evidence hold: the retention sweep will not delete the recording."""
    with uow:
        recording = _recording_for_update(uow, recording_id)
        recording.hold(supervisor, reason, utcnow())
        _audit(uow, recording, supervisor, "recording.held", address, reason=recording.hold_reason)
        uow.commit()
        return recording_view(recording)


def release_recording(
    uow: UnitOfWork, recording_id: int, supervisor: str, address: str | None = None
) -> dict[str, Any]:
    """Release an evidence hold; normal retention applies again."""
    with uow:
        recording = _recording_for_update(uow, recording_id)
        previous = recording.hold_reason
        recording.release()
        _audit(uow, recording, supervisor, "recording.released", address, reason=previous)
        uow.commit()
        return recording_view(recording)


def purge_recordings(
    uow_factory: Callable[[], UnitOfWork],
    directory: Path,
    now: datetime | None = None,
    batch: int = 200,
) -> int:
    """Delete recordings past retention that are not on hold; returns how many were deleted.

    Each batch is one transaction: the files are deleted, then the rows marked purged and
    audited. A file already missing still counts as purged (someone deleted it by hand).
    """
    now = now or utcnow()
    purged = 0
    while True:
        uow = uow_factory()
        with uow:
            due = uow.calls.due_for_purge(now, batch)
            if not due:
                return purged
            for recording in due:
                target = directory / recording.path
                try:
                    target.unlink(missing_ok=True)
                except OSError as exc:
                    log.error("retention: cannot delete %s: %s", target, exc)
                    continue
                recording.purged(now)
                _audit(
                    uow,
                    recording,
                    "system",
                    "recording.purged",
                    None,
                    retain_until=iso(recording.retain_until),
                )
                purged += 1
            uow.commit()
        if len(due) < batch:
            return purged


def _recording_for_update(uow: UnitOfWork, recording_id: int) -> Recording:
    recording = uow.calls.get_recording(recording_id, for_update=True)
    if recording is None:
        raise NotFound(f"recording {recording_id} does not exist")
    return recording


def _audit(
    uow: UnitOfWork,
    recording: Recording,
    actor: str,
    action: str,
    address: str | None,
    **detail: Any,
) -> None:
    uow.audit.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            action=action,
            incident_id=recording.incident_id,
            detail={"recording_id": recording.id, **detail},
            address=address,
        )
    )


def call_view(call: Call) -> dict[str, Any]:
    return {
        "id": call.id,
        "incident_id": call.incident_id,
        "unit_id": call.unit_id,
        "operator": call.operator,
        "started_at": iso(call.started_at),
        "connected_at": iso(call.connected_at),
        "ended_at": iso(call.ended_at),
        "end_reason": call.end_reason,
        "talk": call.talk,
        "video": call.video,
        "detail": call.detail,
        "active": call.active,
        "kind": call.kind,
    }


def recording_view(recording: Recording) -> dict[str, Any]:
    return {
        "id": recording.id,
        "call_id": recording.call_id,
        "incident_id": recording.incident_id,
        "started_at": iso(recording.started_at),
        "ended_at": iso(recording.ended_at),
        "duration": round(recording.duration, 3),
        "size_bytes": recording.size_bytes,
        "sha256": recording.sha256,
        "media_type": recording.media_type,
        "retain_until": iso(recording.retain_until),
        "held": recording.held,
        "held_by": recording.held_by,
        "held_at": iso(recording.held_at),
        "hold_reason": recording.hold_reason,
        "available": recording.available,
        "purged_at": iso(recording.purged_at),
    }


@dataclass(frozen=True)
class RecordingCheck:
    """One kept recording checked against its stored checksum."""

    recording_id: int
    path: str
    problem: str  # "" when the file is present and matches


def verify_recordings(uow: UnitOfWork, directory: Path) -> list[RecordingCheck]:
    """Recompute the SHA-256 of every kept recording; a problem for each missing or changed file."""
    from helppoint.store.recording_files import sha256_of

    with uow:
        kept = [r for r in uow.calls.kept() if r.id is not None]
        checks = []
        for recording in kept:
            assert recording.id is not None
            target = directory / recording.path
            if not target.is_file():
                problem = "file missing"
            elif sha256_of(target) != recording.sha256:
                problem = "checksum does not match: the file was changed"
            else:
                problem = ""
            checks.append(RecordingCheck(recording.id, recording.path, problem))
        return checks
