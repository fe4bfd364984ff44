"""Operator use cases on incidents: acknowledge, call, classify, note, close, weed out a false
activation, look up."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from helppoint.domain.classification import Classification
from helppoint.domain.errors import (
    AlreadyClaimed,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from helppoint.domain.model import AuditEntry, Incident, IncidentNote, Permission
from helppoint.domain.triage import (
    ChangedSinceSeen,
    ConfirmationNeeded,
    take_order,
    weed_out_reason,
)
from helppoint.services.clock import utcnow
from helppoint.services.views import audit_view, event_view, incident_view, note_view
from helppoint.store.repositories import IncidentFilter
from helppoint.store.uow import UnitOfWork
from helppoint.topics import IncidentMessage, NoteMessage, Topic


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
) -> IncidentMessage:
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
    uow.publish_after_commit(Topic.INCIDENTS, view)
    return view


def acknowledge(
    uow: UnitOfWork, incident_id: int, operator: str, address: str | None = None
) -> IncidentMessage:
    """Claim a new incident. Exactly one operator wins; the others get AlreadyClaimed."""
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        if not uow.incidents.claim(incident_id, operator, utcnow()):
            uow.incidents.refresh(incident)
            by = incident.acknowledged_by or "someone else"
            raise AlreadyClaimed(f"{incident.ref} was already acknowledged by {by}")
        uow.incidents.refresh(incident)
        view = record_change(uow, incident, operator, "incident.acknowledged", address)
        uow.commit()
        return view


def start_call(
    uow: UnitOfWork, incident_id: int, operator: str, address: str | None = None
) -> IncidentMessage:
    """Mark the incident as in a call with the unit."""
    with uow:
        incident = load_for_update(uow, incident_id)
        incident.start_call(utcnow())
        view = record_change(uow, incident, operator, "incident.call_started", address)
        uow.commit()
        return view


def end_call(
    uow: UnitOfWork, incident_id: int, operator: str, address: str | None = None
) -> IncidentMessage:
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
) -> IncidentMessage:
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
) -> NoteMessage:
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
) -> IncidentMessage:
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
        assert incident.id is not None  # loaded, so stored
        uow.publish_after_commit(
            Topic.UNIT_RESET, {"unit_id": incident.unit_id, "incident_id": incident.id}
        )
        uow.commit()
        return view


def weed_out(
    uow: UnitOfWork,
    incident_id: int,
    operator: str,
    reason: Classification,
    *,
    outcome: str = "",
    confirmed: bool = False,
    seen_event_count: int | None = None,
    address: str | None = None,
) -> IncidentMessage:
    """Acknowledge, classify as a false activation and close, as one audited change.

    The incident's row is locked for the change (and its version checked on writing), so
    two operators weeding out, or acknowledging, the same incident never both succeed. The
    rules are Incident.weed_out's, the press-time evidence among them.
    """
    if len(outcome) > 4000:
        raise InvalidInput("the outcome is limited to 4000 characters")
    with uow:
        incident = load_for_update(uow, incident_id)
        acknowledged = incident.weed_out(
            operator,
            reason,
            utcnow(),
            outcome,
            confirmed=confirmed,
            seen_event_count=seen_event_count,
        )
        view = record_change(
            uow,
            incident,
            operator,
            "incident.weeded_out",
            address,
            classification=reason.value,
            outcome=incident.outcome,
            acknowledged=acknowledged,
            voice=incident.voice.value if incident.voice is not None else None,
            confirmed=confirmed,
        )
        # As for any close: the unit's light and camera go back to rest.
        assert incident.id is not None  # loaded, so stored
        uow.publish_after_commit(
            Topic.UNIT_RESET, {"unit_id": incident.unit_id, "incident_id": incident.id}
        )
        uow.commit()
        return view


@dataclass(frozen=True)
class WeedOutResult:
    """What became of one incident of a weed-out of several."""

    incident_id: int
    #: "closed", or why not: "needs_confirmation", "pressed_again", "held_by_other",
    #: "refused" (not in a state that allows it) or "not_found".
    result: str
    detail: str = ""
    incident: IncidentMessage | None = None

    @property
    def ok(self) -> bool:
        return self.result == "closed"


#: The result code of each refusal, most specific first.
_REFUSALS: tuple[tuple[type[DomainError], str], ...] = (
    (ConfirmationNeeded, "needs_confirmation"),
    (ChangedSinceSeen, "pressed_again"),
    (AlreadyClaimed, "held_by_other"),
    (NotFound, "not_found"),
    (InvalidTransition, "refused"),
)


def weed_out_many(
    uow_factory: Callable[[], UnitOfWork],
    seen: Sequence[tuple[int, int | None]],
    operator: str,
    reason: Classification,
    *,
    outcome: str = "",
    confirmed: bool = False,
    address: str | None = None,
) -> list[WeedOutResult]:
    """Weed out several incidents with one reason: each its own change, audited on its own.

    `seen` pairs each incident id with the press count the operator saw (or None). One that
    is refused leaves the others unaffected; the results say, per incident, what happened.
    """
    # Bad input is refused before any incident is touched.
    weed_out_reason(reason)
    if len(outcome) > 4000:
        raise InvalidInput("the outcome is limited to 4000 characters")
    results: list[WeedOutResult] = []
    for incident_id, seen_event_count in seen:
        try:
            view = weed_out(
                uow_factory(),
                incident_id,
                operator,
                reason,
                outcome=outcome,
                confirmed=confirmed,
                seen_event_count=seen_event_count,
                address=address,
            )
        except DomainError as exc:
            code = next((c for kind, c in _REFUSALS if isinstance(exc, kind)), None)
            if code is None:
                raise
            results.append(WeedOutResult(incident_id, code, str(exc)))
        else:
            results.append(WeedOutResult(incident_id, "closed", "", view))
    return results


def take_next(uow: UnitOfWork, operator: str, address: str | None = None) -> IncidentMessage | None:
    """Acknowledge the next alarm nobody has claimed, for `operator`; None if none waits.

    The server picks (domain/triage.py take_order: a voice heard first) and claims with the
    same conditional update as acknowledge: of two operators taking at once, each gets a
    different incident, never the same one.
    """
    with uow:
        for incident in sorted(uow.incidents.unclaimed(), key=take_order):
            assert incident.id is not None
            if uow.incidents.claim(incident.id, operator, utcnow()):
                uow.incidents.refresh(incident)
                view = record_change(
                    uow, incident, operator, "incident.acknowledged", address, taken=True
                )
                uow.commit()
                return view
        return None


def move(
    uow: UnitOfWork,
    incident_id: int,
    to_operator: str,
    supervisor: str,
    address: str | None = None,
) -> IncidentMessage:
    """A supervisor gives an incident to another operator (audited: who from, who to)."""
    with uow:
        incident = load_for_update(uow, incident_id)
        target = uow.operators.by_username(to_operator)
        if target is None or not target.can(Permission.HANDLE_INCIDENTS):
            raise InvalidInput(f"{to_operator!r} is not an operator who can handle alarms")
        previous = incident.move_to(target.username)
        view = record_change(
            uow,
            incident,
            supervisor,
            "incident.moved",
            address,
            from_operator=previous,
            to_operator=target.username,
        )
        uow.commit()
        return view


def holders(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Everyone who can handle alarms, with how many open incidents each holds now."""
    with uow:
        held: dict[str, int] = {}
        for incident in uow.incidents.open_queue():
            holder = incident.held_by or incident.acknowledged_by
            if holder is not None:
                held[holder] = held.get(holder, 0) + 1
        return [
            {
                "username": o.username,
                "display_name": o.display_name,
                "role": o.role.value,
                "holds": held.get(o.username, 0),
            }
            for o in uow.operators.list()
            if o.can(Permission.HANDLE_INCIDENTS)
        ]


def open_queue(uow: UnitOfWork) -> list[IncidentMessage]:
    """Open incidents, most urgent first (priority, then oldest)."""
    with uow.reading():
        incidents = uow.incidents.open_queue()
        # Their units in a query a thousand (not one a unit: thousands of open alarms in a
        # storm, and this is every console's snapshot).
        ids = sorted({i.unit_id for i in incidents})
        units = {
            unit.id: unit
            for start in range(0, len(ids), 1000)
            for unit in uow.units.load(ids[start : start + 1000])
        }
        return [incident_view(i, units.get(i.unit_id)) for i in incidents]


def incident_detail(uow: UnitOfWork, incident_id: int) -> dict[str, Any]:
    """An incident with its unit, events, notes and timeline."""
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        return {
            **incident_view(incident, uow.units.get(incident.unit_id)),
            "events": [
                event_view(e) for e in uow.events.for_incident(incident_id, incident.unit_id)
            ],
            "notes": [note_view(n) for n in uow.notes.for_incident(incident_id)],
            "timeline": [audit_view(a) for a in uow.audit.for_incident(incident_id)],
        }


def search_history(uow: UnitOfWork, flt: IncidentFilter) -> tuple[list[IncidentMessage], int]:
    """Incident history for the filters, newest first, with the total for paging."""
    with uow:
        rows, total = uow.incidents.search(flt)
        return [incident_view(i, uow.units.get(i.unit_id)) for i in rows], total


def classifications() -> Sequence[Classification]:
    """Every classification code, in the order the console offers them."""
    return list(Classification)
