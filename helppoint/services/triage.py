"""Use cases of press-time evidence: the voice judgement, the press-time audio on the record,
and operators listening in (docs/triage.md).

The media is handled by helppoint/calls/listen.py; these functions keep the record. A voice
judgement is stored on the incident without moving its version (it is evidence, not an
operator's change, so it never makes anyone's action or the event writer retry), shown to the
consoles, and put on the timeline whenever it says something new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from helppoint.domain.calls import Call, CallKind, EndReason, Recording, retain_until
from helppoint.domain.errors import InvalidTransition, NotFound
from helppoint.domain.model import AuditEntry, IncidentState
from helppoint.domain.triage import Judgement
from helppoint.services.calls import RecordingFile
from helppoint.services.clock import utcnow
from helppoint.services.incidents import record_change
from helppoint.services.views import incident_view
from helppoint.store.uow import UnitOfWork
from helppoint.topics import IncidentMessage, Topic

#: Who the system's triage entries are by, on the timeline and in the audit trail.
TRIAGE_ACTOR = "system:triage"


@dataclass(frozen=True)
class ListenTarget:
    """The incident an operator wants to listen in to, and its unit."""

    incident_id: int
    unit_id: str
    ref: str


def listen_target(uow: UnitOfWork, incident_id: int) -> ListenTarget:
    """The unit to listen to for an open incident; NotFound, or InvalidTransition if closed."""
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None or incident.id is None:
            raise NotFound(f"incident {incident_id} does not exist")
        if incident.state is IncidentState.CLOSED:
            raise InvalidTransition(f"{incident.ref} is closed; there is nothing to listen to")
        return ListenTarget(incident.id, incident.unit_id, incident.ref)


def record_voice(uow: UnitOfWork, incident_id: int, judgement: Judgement) -> IncidentMessage | None:
    """Store and show a new voice judgement of an open incident; its view, or None if the
    incident is closed (or gone). A judgement that says another voice goes on the timeline."""
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            return None
        previous = incident.voice
        if not uow.incidents.set_voice(incident_id, judgement.voice, judgement.level):
            return None
        uow.incidents.refresh(incident)
        if judgement.voice is not previous:
            view = record_change(
                uow,
                incident,
                TRIAGE_ACTOR,
                "evidence.voice_judged",
                None,
                voice=judgement.voice.value,
                level=judgement.level,
            )
        else:  # only the level moved: shown, not worth a line on the timeline
            view = incident_view(incident, uow.units.get(incident.unit_id))
            uow.publish_after_commit(Topic.INCIDENTS, view)
        uow.commit()
        return view


def record_press_audio(
    uow: UnitOfWork,
    incident_id: int,
    unit_id: str,
    started_at: datetime,
    reason: EndReason,
    recording: RecordingFile | None,
    retention: timedelta,
    judgement: Judgement | None,
    server: str = "",
) -> dict[str, Any]:
    """Put a finished press-time listen on the record: a call of kind "press" (listen-only,
    no operator) and its recording, kept, held and accessed as a call's recording is."""
    now = utcnow()
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        verdict = f"; judged: {judgement.voice.label}" if judgement is not None else ""
        call = Call(
            incident_id=incident_id,
            unit_id=unit_id,
            operator="system",
            started_at=started_at,
            talk=False,
            video=False,
            detail=f"press-time audio, listen only{verdict}",
            server=server,
            kind=CallKind.PRESS.value,
        )
        call.connected(started_at)
        call.end(reason, now)
        calls = uow.calls
        calls.add_call(call)
        uow.flush()
        detail: dict[str, Any] = {"call_id": call.id, "reason": reason.value}
        if judgement is not None:
            detail |= {"voice": judgement.voice.value, "level": judgement.level}
        if recording is not None:
            assert call.id is not None
            stored = Recording(
                call_id=call.id,
                incident_id=incident_id,
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
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=TRIAGE_ACTOR,
                action="evidence.press_audio",
                incident_id=incident_id,
                detail=detail,
            )
        )
        uow.commit()
        return detail


def listened_in(
    uow: UnitOfWork, incident_id: int, operator: str, address: str | None = None
) -> None:
    """Audit that an operator listens in to a unit's live press-time audio."""
    with uow:
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=operator,
                action="evidence.listened_in",
                incident_id=incident_id,
                detail={},
                address=address,
            )
        )
        uow.commit()
