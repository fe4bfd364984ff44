"""The operator's checklist for an incident, and the police side of an escalation: the police
are called, acknowledge with their log/CAD reference, and arrive on scene."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from helppoint.domain.classification import Classification
from helppoint.domain.errors import InvalidTransition, NotFound
from helppoint.domain.model import HelpPoint, Incident, IncidentState
from helppoint.domain.police import PoliceResponse
from helppoint.services.clock import utcnow
from helppoint.services.incidents import load_for_update, record_change
from helppoint.services.plans import active_plan
from helppoint.services.views import incident_view, iso, note_view, notification_view
from helppoint.store.uow import UnitOfWork
from helppoint.topics import PoliceIncidentMessage, PoliceResponseMessage, Topic


def police_response_view(response: PoliceResponse | None) -> PoliceResponseMessage | None:
    """The police response record for the console and the police view."""
    if response is None:
        return None
    return {
        "called_at": iso(response.called_at),
        "called_by": response.called_by,
        "acknowledged_at": iso(response.acknowledged_at),
        "acknowledged_by": response.acknowledged_by,
        "cad_reference": response.cad_reference,
        "on_scene_at": iso(response.on_scene_at),
    }


def checklist(
    uow: UnitOfWork, incident_id: int, classification: Classification | None = None
) -> dict[str, Any]:
    """What the plan asks for this incident: for its classification (or the one the operator
    is about to choose), the actions, the police URN and phone, and what has been done."""
    with uow:
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        unit = uow.units.get(incident.unit_id)
        assert unit is not None
        active = active_plan(uow, unit)
        chosen = classification or incident.classification
        actions = active.plan.actions_for(chosen, utcnow()) if active and chosen else ()
        return {
            "incident_id": incident_id,
            "classification": chosen.value if chosen else None,
            "plan": None
            if active is None
            else {
                "name": active.plan.name,
                "scope": active.plan.scope.value,
                "target_id": active.plan.target_id,
                "version": active.stored.version,
            },
            "police": None
            if active is None or active.plan.police is None
            else {"urn": active.plan.police.urn, "phone": active.plan.police.phone},
            "actions": [
                {
                    "notify": a.kind.value,
                    "notify_label": a.kind.label,
                    "channel": a.channel.value,
                    "to": a.target,
                    "automatic": a.channel.automatic,
                    "ack_within": int(a.ack_within.total_seconds()) if a.ack_within else None,
                }
                for a in actions
            ],
            "notifications": [
                notification_view(n) for n in uow.notifications.for_incident(incident_id)
            ],
            "police_response": police_response_view(uow.police.get(incident_id)),
        }


def _record(
    uow: UnitOfWork,
    incident: Incident,
    actor: str,
    action: str,
    address: str | None,
    response: PoliceResponse,
    **detail: Any,
) -> dict[str, Any]:
    view = record_change(uow, incident, actor, action, address, **detail)
    unit = uow.units.get(incident.unit_id)
    uow.publish_after_commit(Topic.POLICE, police_incident_view(uow, incident, unit, response))
    return view | {"police_response": police_response_view(response)}


def start_police_response(
    uow: UnitOfWork, incident: Incident, operator: str, at: datetime
) -> PoliceResponse:
    """Record that the police were called for an incident (in the caller's transaction)."""
    assert incident.id is not None
    response = uow.police.get(incident.id)
    if response is None:
        response = PoliceResponse(incident.id, at, operator)
        uow.police.add(response)
    return response


def police_called(
    uow: UnitOfWork, incident_id: int, operator: str, address: str | None = None
) -> dict[str, Any]:
    """One click: the operator telephoned the police (the plan's phone action)."""
    with uow:
        incident = load_for_update(uow, incident_id)
        if incident.state is not IncidentState.ESCALATED:
            raise InvalidTransition(
                f"{incident.ref} must be escalated before the police are called"
            )
        if uow.police.get(incident_id) is not None:
            raise InvalidTransition(f"the police were already called for {incident.ref}")
        response = start_police_response(uow, incident, operator, utcnow())
        view = _record(
            uow,
            incident,
            operator,
            "police.called",
            address,
            response,
        )
        uow.commit()
        return view


def police_acknowledge(
    uow: UnitOfWork, incident_id: int, officer: str, reference: str, address: str | None = None
) -> dict[str, Any]:
    """The police control room acknowledges an escalated incident with its CAD reference."""
    with uow:
        incident = uow.incidents.get_for_update(incident_id)
        response = uow.police.get_for_update(incident_id)
        if incident is None or response is None:
            raise NotFound(f"incident {incident_id} was not escalated to the police")
        response.acknowledge(officer, reference, utcnow())
        view = _record(
            uow,
            incident,
            officer,
            "police.acknowledged",
            address,
            response,
            cad_reference=response.cad_reference,
        )
        uow.commit()
        return view


def police_on_scene(
    uow: UnitOfWork, incident_id: int, actor: str, address: str | None = None
) -> dict[str, Any]:
    """Officers were seen on scene."""
    with uow:
        incident = uow.incidents.get_for_update(incident_id)
        response = uow.police.get_for_update(incident_id)
        if incident is None or response is None:
            raise NotFound(f"incident {incident_id} was not escalated to the police")
        response.arrived(utcnow())
        view = _record(
            uow,
            incident,
            actor,
            "police.on_scene",
            address,
            response,
        )
        uow.commit()
        return view


def police_incident_view(
    uow: UnitOfWork, incident: Incident, unit: HelpPoint | None, response: PoliceResponse | None
) -> PoliceIncidentMessage:
    """What the police see of an incident escalated to them."""
    assert incident.id is not None
    return {
        **incident_view(incident, unit),
        "unit_description": unit.description if unit else "",
        "police_response": police_response_view(response),
        "notes": [note_view(n) for n in uow.notes.for_incident(incident.id)],
    }


def police_queue(uow: UnitOfWork) -> list[PoliceIncidentMessage]:
    """Incidents escalated to the police and still open, newest escalation first."""
    with uow:
        escalated = [i for i in uow.incidents.open_queue() if i.state is IncidentState.ESCALATED]
        responses = uow.police.for_incidents([i.id for i in escalated if i.id is not None])
        views = [
            police_incident_view(uow, i, uow.units.get(i.unit_id), responses[i.id])
            for i in escalated
            if i.id in responses
        ]
        return sorted(views, key=lambda v: v["escalated_at"] or "", reverse=True)


def police_incident(uow: UnitOfWork, incident_id: int) -> PoliceIncidentMessage:
    """One incident as the police see it (only if it was escalated to them)."""
    with uow:
        incident = uow.incidents.get(incident_id)
        response = uow.police.get(incident_id)
        if incident is None or response is None:
            raise NotFound(f"incident {incident_id} was not escalated to the police")
        return police_incident_view(uow, incident, uow.units.get(incident.unit_id), response)
