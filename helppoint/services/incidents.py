"""Operator use cases on incidents: acknowledge, call, classify, note, close, look up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from helppoint.domain.classification import Classification
from helppoint.domain.errors import AlreadyClaimed, InvalidInput, NotFound
from helppoint.domain.model import AuditEntry, Incident, IncidentNote
from helppoint.services.clock import utcnow
from helppoint.services.ingest import INCIDENTS_TOPIC
from helppoint.services.views import audit_view, event_view, incident_view, note_view
from helppoint.store.repositories import IncidentFilter
from helppoint.store.uow import UnitOfWork

#: Published after an incident is closed: its unit's light and camera should go back to rest.
UNIT_RESET_TOPIC = "unit_reset"


def load_for_update(uow: UnitOfWork, incident_id: int) -> Incident:
    """The incident, its row locked for this transaction; NotFound if there is none."""
    incident = uow.incidents.get_for_update(incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return incident


def record_change(
    uow: UnitOfWork,
    incident: Incident,
    actor: str,
    action: str,
    address: str | None,
    **detail: Any,
) -> dict[str, Any]:
    """Audit a change to an incident and push the new view to consoles after commit."""
    uow.audit.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            action=action,
            incident_id=incident.id,
            detail=detail,
            address=address,
        )
    )
    uow.flush()
    view = incident_view(incident, uow.units.get(incident.unit_id))
    uow.publish_after_commit(INCIDENTS_TOPIC, view)
    return view


def acknowledge(
    uow: UnitOfWork, incident_id: int, operator: str, address: str | None = None
) -> dict[str, Any]:
    """Claim a new incident. Exactly one operator wins; the others get AlreadyClaimed."""
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        if not uow.incidents.claim(incident_id, operator, utcnow()):
            uow.session.refresh(incident)
            by = incident.acknowledged_by or "someone else"
            raise AlreadyClaimed(f"{incident.ref} was already acknowledged by {by}")
        uow.session.refresh(incident)
        view = record_change(uow, incident, operator, "incident.acknowledged", address)
        uow.commit()
        return view


def start_call(
    uow: UnitOfWork, incident_id: int, operator: str, address: str | None = None
) -> dict[str, Any]:
    """Mark the incident as in a call with the unit."""
    with uow:
        incident = load_for_update(uow, incident_id)
        incident.start_call(utcnow())
        view = record_change(uow, incident, operator, "incident.call_started", address)
        uow.commit()
        return view


def end_call(
    uow: UnitOfWork, incident_id: int, operator: str, address: str | None = None
) -> dict[str, Any]:
    """The call ended before the incident was classified."""
    with uow:
        incident = load_for_update(uow, incident_id)
        incident.end_call()
        view = record_change(uow, incident, operator, "incident.call_ended", address)
        uow.commit()
        return view


def parse_classification(value: str) -> Classification:
    """The Classification for a code, with the list of valid codes in the error."""
    try:
        return Classification(value)
    except ValueError:
        codes = ", ".join(c.value for c in Classification)
        raise InvalidInput(f"unknown classification {value!r}; use one of: {codes}") from None


def classify(
    uow: UnitOfWork,
    incident_id: int,
    classification: Classification,
    operator: str,
    address: str | None = None,
) -> dict[str, Any]:
    """Record the operator's judgement of the incident."""
    with uow:
        incident = load_for_update(uow, incident_id)
        incident.classify(classification, utcnow())
        view = record_change(
            uow,
            incident,
            operator,
            "incident.classified",
            address,
            classification=classification.value,
        )
        uow.commit()
        return view


def add_note(
    uow: UnitOfWork, incident_id: int, text: str, operator: str, address: str | None = None
) -> dict[str, Any]:
    """Add a free-text note to an incident (open or closed)."""
    with uow:
        incident = load_for_update(uow, incident_id)
        assert incident.id is not None
        note = IncidentNote(incident_id=incident.id, author=operator, text=text, at=utcnow())
        uow.notes.add(note)
        uow.flush()
        record_change(uow, incident, operator, "incident.note_added", address, note_id=note.id)
        uow.commit()
        return note_view(note)


def close(
    uow: UnitOfWork,
    incident_id: int,
    operator: str,
    outcome: str = "",
    classification: Classification | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    """Close with an outcome, classifying first when a classification is given."""
    if len(outcome) > 4000:
        raise InvalidInput("the outcome is limited to 4000 characters")
    with uow:
        incident = load_for_update(uow, incident_id)
        now = utcnow()
        if classification is not None and incident.classification != classification:
            incident.classify(classification, now)
            record_change(
                uow,
                incident,
                operator,
                "incident.classified",
                address,
                classification=classification.value,
            )
        incident.close(operator, now, outcome)
        view = record_change(uow, incident, operator, "incident.closed", address, outcome=outcome)
        # The unit's light and camera go back to rest (gateway/unit_reset.py sends the commands).
        uow.publish_after_commit(
            UNIT_RESET_TOPIC, {"unit_id": incident.unit_id, "incident_id": incident.id}
        )
        uow.commit()
        return view


def open_queue(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Open incidents, most urgent first (priority, then oldest)."""
    with uow:
        return [incident_view(i, uow.units.get(i.unit_id)) for i in uow.incidents.open_queue()]


def incident_detail(uow: UnitOfWork, incident_id: int) -> dict[str, Any]:
    """An incident with its unit, events, notes and timeline."""
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        view = incident_view(incident, uow.units.get(incident.unit_id))
        view["events"] = [
            event_view(e) for e in uow.events.for_incident(incident_id, incident.unit_id)
        ]
        view["notes"] = [note_view(n) for n in uow.notes.for_incident(incident_id)]
        view["timeline"] = [audit_view(a) for a in uow.audit.for_incident(incident_id)]
        return view


def search_history(uow: UnitOfWork, flt: IncidentFilter) -> tuple[list[dict[str, Any]], int]:
    """Incident history for the filters, newest first, with the total for paging."""
    with uow:
        rows, total = uow.incidents.search(flt)
        return [incident_view(i, uow.units.get(i.unit_id)) for i in rows], total


def classifications() -> Sequence[Classification]:
    """Every classification code, in the order the console offers them."""
    return list(Classification)
