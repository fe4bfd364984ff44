"""The supervisor's side of triage (docs/triage.md): units on test, per-unit patterns, the
daily hyperactive units, suggestion rules and what they suggested against what was decided."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from helppoint.domain.classification import Classification
from helppoint.domain.model import Operator, Permission
from helppoint.services import triage_on_test, triage_rules
from helppoint.services.clock import utcnow
from helppoint.web.deps import client_address, require, unit_of_work

router = APIRouter(prefix="/api", tags=["triage"])
Supervisor = Annotated[Operator, Depends(require(Permission.SUPERVISE))]


class OnTestBody(BaseModel):
    minutes: int = Field(ge=1, le=24 * 60, description="length of the maintenance window")
    reason: str = Field(min_length=1, max_length=500)


class UnitOnTest(BaseModel):
    """Whether a unit is on test (what it reports is logged as a test, not alarmed)."""

    unit_id: str
    unit_name: str
    on_test: bool
    until: str | None
    reason: str


@router.get("/units/on-test", response_model=list[UnitOnTest])
def units_on_test(request: Request, supervisor: Supervisor) -> list[dict[str, Any]]:
    """The units on test now, soonest back first."""
    return triage_on_test.units_on_test(unit_of_work(request))


@router.put("/units/{unit_id}/on-test", response_model=UnitOnTest)
def put_on_test(
    unit_id: str, body: OnTestBody, request: Request, supervisor: Supervisor
) -> dict[str, Any]:
    """Put a unit on test for a maintenance window (audited); replaces a current window."""
    return triage_on_test.put_on_test(
        unit_of_work(request),
        unit_id,
        body.minutes,
        body.reason,
        supervisor.username,
        client_address(request),
    )


@router.delete("/units/{unit_id}/on-test", response_model=UnitOnTest)
def end_test(unit_id: str, request: Request, supervisor: Supervisor) -> dict[str, Any]:
    """End a unit's maintenance window now (audited)."""
    return triage_on_test.end_test(
        unit_of_work(request), unit_id, supervisor.username, client_address(request)
    )


# ---------- patterns and rules ----------


class UnitPatternView(BaseModel):
    """How one unit was pressed over the period (alarms of units on test left out)."""

    unit_id: str
    unit_name: str
    alarms: int
    presses: int
    presses_per_hour: float | None
    classified: int
    false: int
    genuine: int
    false_share: float | None
    silent: int
    #: False activations by local hour (0-23, in sla_timezone).
    false_by_hour: list[int]
    #: The hours with the most false activations, most first.
    prank_hours: list[int]


class RuleBody(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    mark: str = Field(min_length=1, max_length=32)
    suggest: Classification | None = None
    unit_id: str | None = Field(default=None, max_length=64)
    zone_id: str | None = Field(default=None, max_length=64)
    hour_from: int | None = Field(default=None, ge=0, le=23)
    hour_to: int | None = Field(default=None, ge=0, le=23)
    voice: Literal["silent", "noisy", "none"] | None = None
    min_alarms: int = Field(default=1, ge=1, le=100)
    within_minutes: int = Field(default=60, ge=1, le=1440)


class RuleView(RuleBody):
    id: int
    active: bool


class ActiveBody(BaseModel):
    active: bool


class RuleOutcomeView(BaseModel):
    """What a rule suggested against what operators decided."""

    rule: str
    suggested: int
    open: int
    agreed: int
    other: int
    genuine: int
    agreed_share: float | None


def _timezone(request: Request) -> str:
    return str(request.app.state.settings.sla_timezone)


@router.get("/triage/patterns", response_model=list[UnitPatternView])
def patterns(
    request: Request,
    supervisor: Supervisor,
    hours: Annotated[int, Query(ge=1, le=24 * 92)] = 24 * 7,
) -> list[dict[str, Any]]:
    """Each unit's pattern over the last `hours`, units with most alarms first."""
    now = utcnow()
    return triage_rules.unit_patterns_between(
        unit_of_work(request), now - timedelta(hours=hours), now, _timezone(request)
    )


@router.get("/triage/hyperactive", response_model=list[UnitPatternView])
def hyperactive_units(
    request: Request, supervisor: Supervisor, day: date | None = None
) -> list[dict[str, Any]]:
    """The day's hyperactive units (at least `hyperactive_alarms` alarms that local day;
    default today): where signage, lighting or placement may need to change."""
    settings = request.app.state.settings
    when = (
        datetime.combine(day, time(12), tzinfo=ZoneInfo(settings.sla_timezone))
        if day is not None
        else utcnow()
    )
    start, end = triage_rules.local_day_bounds(when, settings.sla_timezone)
    return triage_rules.hyperactive_units(
        unit_of_work(request), start, end, settings.sla_timezone, settings.hyperactive_alarms
    )


@router.get("/triage/rules", response_model=list[RuleView])
def rules(request: Request, supervisor: Supervisor) -> list[dict[str, Any]]:
    """The suggestion rules, oldest first."""
    return triage_rules.list_rules(unit_of_work(request))


@router.post("/triage/rules", response_model=RuleView, status_code=201)
def add_rule(body: RuleBody, request: Request, supervisor: Supervisor) -> dict[str, Any]:
    """A new suggestion rule (audited). Rules mark alarms and suggest; they never close one."""
    return triage_rules.add_rule(
        unit_of_work(request), body.model_dump(), supervisor.username, client_address(request)
    )


@router.post("/triage/rules/{rule_id}/active", response_model=RuleView)
def set_rule_active(
    rule_id: int, body: ActiveBody, request: Request, supervisor: Supervisor
) -> dict[str, Any]:
    """Switch a rule on or off (audited)."""
    return triage_rules.set_rule_active(
        unit_of_work(request), rule_id, body.active, supervisor.username, client_address(request)
    )


@router.get("/triage/outcomes", response_model=list[RuleOutcomeView])
def outcomes(
    request: Request,
    supervisor: Supervisor,
    hours: Annotated[int, Query(ge=1, le=24 * 92)] = 24 * 7,
) -> list[dict[str, Any]]:
    """What each rule (and the chattering check) suggested over the last `hours`, against
    what the operators decided."""
    return triage_rules.rule_outcomes(unit_of_work(request), utcnow() - timedelta(hours=hours))
