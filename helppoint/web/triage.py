"""Triage at storm scale, for the console: weed out false activations (one or several at a
time), take the next unclaimed alarm, and (supervisors) move alarms between operators, with
typed answers documented at /docs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from helppoint.domain.classification import Classification
from helppoint.domain.model import Operator, Permission
from helppoint.domain.sla import DEFAULT_TARGETS, AnswerTargets
from helppoint.domain.triage import WEED_OUT_REASONS
from helppoint.services import incidents as incident_service
from helppoint.services import stills as still_service
from helppoint.services.views import IncidentView
from helppoint.topics import IncidentMessage
from helppoint.web.deps import Handler, client_address, require, uow_factory
from helppoint.web.media import StillView

router = APIRouter(prefix="/api", tags=["triage"])
Supervisor = Annotated[Operator, Depends(require(Permission.SUPERVISE))]

#: The most incidents one request may weed out together (a storm view shows fewer).
MAX_BULK = 100
#: Largest press count a client can claim to have seen (more than any unit ever sends).
MAX_PRESSES = 1_000_000_000


Outcome = Annotated[str, Field(default="", max_length=4000)]
SeenPresses = Annotated[int | None, Field(default=None, ge=1, le=MAX_PRESSES)]


class TakeNextAnswer(BaseModel):
    """The alarm taken for the operator, or null when none waits."""

    incident: IncidentView | None


class MoveBody(BaseModel):
    """Give an incident to another operator."""

    model_config = ConfigDict(extra="forbid")

    operator: str = Field(min_length=1, max_length=64)


class Holder(BaseModel):
    """Someone who can handle alarms, and how many open incidents they hold now."""

    username: str
    display_name: str
    role: str
    holds: int


class WeedOutBody(BaseModel):
    """Close one incident as a false activation."""

    model_config = ConfigDict(extra="forbid")

    #: A false-activation classification: false_accidental, false_malicious or false_test.
    reason: Classification
    outcome: Outcome = ""
    #: The operator confirmed closing although a person may be there (voice heard or noise).
    confirmed: bool = False
    #: The press count the operator saw: refused if the unit was pressed again since.
    seen_event_count: SeenPresses = None


class SeenIncident(BaseModel):
    """One incident of a weed-out of several, with the press count the operator saw."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1, le=2**63 - 1)
    seen_event_count: SeenPresses = None


class BulkWeedOutBody(BaseModel):
    """Close several incidents with one false reason: each its own change and audit entry."""

    model_config = ConfigDict(extra="forbid")

    incidents: list[SeenIncident] = Field(min_length=1, max_length=MAX_BULK)
    reason: Classification
    outcome: Outcome = ""
    confirmed: bool = False

    @field_validator("incidents")
    @classmethod
    def distinct(cls, incidents: list[SeenIncident]) -> list[SeenIncident]:
        ids = [i.id for i in incidents]
        if len(set(ids)) != len(ids):
            raise ValueError("each incident may be listed once")
        return incidents


class WeedOutOutcome(BaseModel):
    """What became of one incident of a weed-out of several."""

    incident_id: int
    #: "closed", or why not: "needs_confirmation", "pressed_again", "held_by_other",
    #: "refused" or "not_found".
    result: str
    ok: bool
    detail: str
    incident: IncidentView | None


class BulkWeedOutAnswer(BaseModel):
    """Per-incident results, in the order asked, and how many were closed."""

    closed: int
    results: list[WeedOutOutcome]


def console_config(targets: AnswerTargets = DEFAULT_TARGETS) -> dict[str, Any]:
    """What the console page needs from the server's rules, so the page hard-codes none."""
    return {
        "weed_out_reasons": [{"value": c.value, "label": c.label} for c in WEED_OUT_REASONS],
        # The queue's timers turn amber and red at the scheme's answer-time targets.
        "answer_targets": answer_targets(targets),
    }


def answer_targets(targets: AnswerTargets = DEFAULT_TARGETS) -> list[dict[str, float | int]]:
    """The scheme's answer-time targets as the pages show them: [{seconds, share}], shortest
    first (setting sla_targets, domain/sla.py). Pages take them from here and hard-code none."""
    return targets.view()


@router.post("/incidents/{incident_id}/weed-out", response_model=IncidentView)
def weed_out(
    incident_id: int, body: WeedOutBody, request: Request, operator: Handler
) -> IncidentMessage:
    """Acknowledge, classify as a false activation and close, as one audited change.

    409 when another operator holds the incident, it is in a call or escalated, the unit was
    pressed again since `seen_event_count`, or a person may be there (voice heard or noisy
    audio) and `confirmed` is not set.
    """
    return incident_service.weed_out(
        uow_factory(request)(),
        incident_id,
        operator.username,
        body.reason,
        outcome=body.outcome,
        confirmed=body.confirmed,
        seen_event_count=body.seen_event_count,
        address=client_address(request),
    )


@router.post("/incidents/weed-out", response_model=BulkWeedOutAnswer)
def weed_out_many(body: BulkWeedOutBody, request: Request, operator: Handler) -> dict[str, Any]:
    """Weed out several incidents with one false reason; each result says what happened."""
    results = incident_service.weed_out_many(
        uow_factory(request),
        [(i.id, i.seen_event_count) for i in body.incidents],
        operator.username,
        body.reason,
        outcome=body.outcome,
        confirmed=body.confirmed,
        address=client_address(request),
    )
    return {
        "closed": sum(r.ok for r in results),
        "results": [
            {
                "incident_id": r.incident_id,
                "result": r.result,
                "ok": r.ok,
                "detail": r.detail,
                "incident": r.incident,
            }
            for r in results
        ],
    }


@router.get("/triage/stills", response_model=list[StillView])
def open_stills(request: Request, operator: Handler) -> list[dict[str, Any]]:
    """The newest camera still of each open incident that has one (the storm view's tiles)."""
    return still_service.open_incidents_stills(uow_factory(request)())


@router.post("/incidents/take-next", response_model=TakeNextAnswer)
def take_next(request: Request, operator: Handler) -> dict[str, Any]:
    """Acknowledge the next alarm nobody has claimed (the server picks it: a voice heard first,
    then the oldest); `incident` is null when none waits. Two operators never get the same one."""
    taken = incident_service.take_next(
        uow_factory(request)(), operator.username, client_address(request)
    )
    return {"incident": taken}


@router.post("/incidents/{incident_id}/move", response_model=IncidentView)
def move(
    incident_id: int, body: MoveBody, request: Request, supervisor: Supervisor
) -> IncidentMessage:
    """Give an incident someone holds to another operator (supervisors; audited). 409 when
    nobody holds it yet, it is closed, or it is in a call."""
    return incident_service.move(
        uow_factory(request)(),
        incident_id,
        body.operator,
        supervisor.username,
        client_address(request),
    )


@router.get("/triage/holders", response_model=list[Holder])
def holders(request: Request, supervisor: Supervisor) -> list[dict[str, Any]]:
    """Everyone who can handle alarms, with how many open incidents each holds (supervisors)."""
    return incident_service.holders(uow_factory(request)())
