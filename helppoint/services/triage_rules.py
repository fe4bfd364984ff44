"""Patterns and suggestion rules (docs/triage.md): per-unit patterns, the hyperactive units,
chattering units, and the supervisor's rules, which mark open alarms and suggest a
classification. Nothing here closes or classifies an incident: operators decide.

`hyperactive_units(uow, start, end, ...)` is the one function the daily list and the monthly
report share.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.events import Priority
from helppoint.domain.model import AuditEntry, HelpPoint, Incident, IncidentState
from helppoint.domain.triage_patterns import (
    CHATTERING,
    DEFAULT_CHATTER,
    HYPERACTIVE_ALARMS,
    AlarmFact,
    ChatterRule,
    NewMark,
    RecentAlarm,
    RuleOutcome,
    SuggestionRule,
    hyperactive,
    lookback,
    new_marks,
    unit_patterns,
)
from helppoint.services.clock import utcnow
from helppoint.services.incidents import record_change
from helppoint.services.triage import TRIAGE_ACTOR
from helppoint.services.views import incident_view
from helppoint.store.uow import UnitOfWork
from helppoint.topics import IncidentMessage, Topic

# ---------- patterns ----------


def _alarm_facts(
    uow: UnitOfWork, start: datetime, end: datetime, zone: ZoneInfo
) -> list[AlarmFact]:
    return [
        AlarmFact(
            unit_id=row.unit_id,
            opened_at=row.opened_at,
            local_hour=row.opened_at.astimezone(zone).hour,
            classification=row.classification,
            voice=row.voice,
            event_count=row.event_count,
        )
        for row in uow.triage.alarms_between(start, end)
    ]


def unit_patterns_between(
    uow: UnitOfWork, start: datetime, end: datetime, timezone: str
) -> list[dict[str, Any]]:
    """Each unit's pattern from `start` to `end`: alarms, presses (and per hour), false share,
    the local hours false activations come; units with most alarms first."""
    zone = ZoneInfo(timezone)
    hours = (end - start).total_seconds() / 3600
    with uow:
        names = {u.id: u.name for u in uow.units.list()}
        patterns = unit_patterns(_alarm_facts(uow, start, end, zone))
    ordered = sorted(patterns.values(), key=lambda p: (-p.alarms, p.unit_id))
    return [p.view(hours) | {"unit_name": names.get(p.unit_id, p.unit_id)} for p in ordered]


def hyperactive_units(
    uow: UnitOfWork,
    start: datetime,
    end: datetime,
    timezone: str,
    per_day: int = HYPERACTIVE_ALARMS,
) -> list[dict[str, Any]]:
    """Units with at least `per_day` alarms a day on average from `start` to `end` (a day for
    the daily list, a month for the monthly report), most first, with their pattern: where
    signage, lighting or placement may need to change. Alarms of units on test do not count."""
    zone = ZoneInfo(timezone)
    days = (end - start).total_seconds() / 86400
    hours = days * 24
    with uow:
        names = {u.id: u.name for u in uow.units.list()}
        patterns = unit_patterns(_alarm_facts(uow, start, end, zone))
    return [
        p.view(hours) | {"unit_name": names.get(p.unit_id, p.unit_id)}
        for p in hyperactive(patterns, days, per_day)
    ]


def local_day_bounds(day: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The start and end (UTC-aware) of the local calendar day that `day` falls in."""
    zone = ZoneInfo(timezone)
    local = day.astimezone(zone)
    start = datetime(local.year, local.month, local.day, tzinfo=zone)
    return start, start + timedelta(days=1)  # local wall-clock: 23 or 25 h across DST


# ---------- rules ----------


def rule_view(rule: SuggestionRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "mark": rule.mark,
        "suggest": rule.suggest.value if rule.suggest is not None else None,
        "unit_id": rule.unit_id,
        "zone_id": rule.zone_id,
        "hour_from": rule.hour_from,
        "hour_to": rule.hour_to,
        "voice": rule.voice,
        "min_alarms": rule.min_alarms,
        "within_minutes": rule.within_minutes,
        "active": rule.active,
    }


def list_rules(uow: UnitOfWork) -> list[dict[str, Any]]:
    with uow:
        return [rule_view(r) for r in uow.triage.rules()]


def add_rule(
    uow: UnitOfWork, spec: dict[str, Any], by: str, address: str | None = None
) -> dict[str, Any]:
    """A new suggestion rule (checked by SuggestionRule); audited."""
    rule = SuggestionRule(**spec)
    with uow:
        if uow.triage.rule_named(rule.name):
            raise InvalidInput(f"a rule named {rule.name!r} exists already")
        if rule.unit_id is not None and uow.units.get(rule.unit_id) is None:
            raise InvalidInput(f"unit {rule.unit_id} does not exist")
        if rule.zone_id is not None and uow.zones.get(rule.zone_id) is None:
            raise InvalidInput(f"zone {rule.zone_id} does not exist")
        uow.triage.add_rule(rule, by, utcnow())
        view = rule_view(rule)
        uow.audit.add(
            AuditEntry(
                at=utcnow(), actor=by, action="triage.rule_added", detail=view, address=address
            )
        )
        uow.commit()
        return view


def set_rule_active(
    uow: UnitOfWork, rule_id: int, active: bool, by: str, address: str | None = None
) -> dict[str, Any]:
    """Switch a rule on or off (rules are kept, for their record of suggestions); audited."""
    with uow:
        rule = uow.triage.get_rule(rule_id)
        if rule is None:
            raise NotFound(f"rule {rule_id} does not exist")
        rule.active = active
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=by,
                action="triage.rule_changed",
                detail={"rule_id": rule_id, "name": rule.name, "active": active},
                address=address,
            )
        )
        uow.commit()
        return rule_view(rule)


def evaluate(
    uow: UnitOfWork, incident_id: int, timezone: str, chatter: ChatterRule = DEFAULT_CHATTER
) -> IncidentMessage | None:
    """Mark an open alarm as its unit's pattern and the active rules say, and suggest the
    first matching rule's classification; its view if anything new was marked, else None.

    A chattering unit's open alarms in the window are all marked (grouped), as the scheme's
    `chatter` rule says. Each rule marks an
    alarm once. Nothing is classified or closed."""
    # Most alarms get no new mark: that is found in a read, which takes no write lock (SQLite).
    with uow.reading():
        if _new_marks_of(uow, incident_id, timezone, chatter) is None:
            return None
    now = utcnow()
    with uow:
        found = _new_marks_of(uow, incident_id, timezone, chatter)
        if found is None:
            return None
        incident, unit, new, group = found
        for new_mark in new:
            if not uow.triage.add_mark(
                incident_id, new_mark.rule, new_mark.rule_id, new_mark.mark, new_mark.suggest, now
            ):
                return None  # another process marked it first
        mark = incident.mark or new[0].mark
        suggestion = next(((m.suggest, m.rule) for m in new if m.suggest is not None), None)
        suggested, by = (
            (incident.suggested, incident.suggested_by)
            if incident.suggested is not None or suggestion is None
            else suggestion
        )
        uow.incidents.set_triage(incident_id, mark, suggested, by)
        for other in group:  # the chattering unit's other open alarms join the group
            other_incident = uow.incidents.get(other)
            if other_incident is not None and other_incident.mark is None:
                uow.incidents.set_triage(
                    other, CHATTERING, other_incident.suggested, other_incident.suggested_by
                )
                uow.incidents.refresh(other_incident)
                uow.publish_after_commit(Topic.INCIDENTS, incident_view(other_incident, unit))
        uow.incidents.refresh(incident)
        view = record_change(
            uow,
            incident,
            TRIAGE_ACTOR,
            "triage.suggested",
            None,
            rules=[m.rule for m in new],
            mark=mark,
            suggested=suggested.value if suggested is not None else None,
        )
        uow.commit()
        return view


def needing_marks(
    uow: UnitOfWork, incident_ids: Sequence[int], timezone: str, chatter: ChatterRule
) -> list[int]:
    """Of these alarms, those that get a new mark now (`evaluate` them), found in one read
    transaction of five queries whatever their number: a flood's thousands of new alarms are
    looked at together, where one at a time each took its own transaction of five."""
    with uow.reading():
        incidents = [
            i
            for i in uow.incidents.get_many(incident_ids)
            if i.state is not IncidentState.CLOSED
            and i.priority is Priority.ACTIVATION
            and not i.on_test
        ]
        if not incidents:
            return []
        rules = uow.triage.rules(active_only=True)
        back = lookback(rules, chatter)
        unit_ids = sorted({i.unit_id for i in incidents})
        units = {u.id: u for u in uow.units.load(unit_ids)}
        recent = uow.triage.recent_alarms_of(
            unit_ids,
            min(i.opened_at for i in incidents) - back,
            max(i.opened_at for i in incidents),
        )
        marked = uow.triage.marked_by_each([i.id for i in incidents if i.id is not None])
    due = []
    for incident in incidents:
        assert incident.id is not None
        opened = incident.opened_at
        window = [
            a for a in recent.get(incident.unit_id, []) if opened - back <= a.opened_at <= opened
        ]
        new, _ = _marks(
            incident,
            units.get(incident.unit_id),
            rules,
            window,
            marked.get(incident.id, set()),
            timezone,
            chatter,
        )
        if new:
            due.append(incident.id)
    return due


def _new_marks_of(
    uow: UnitOfWork, incident_id: int, timezone: str, chatter: ChatterRule
) -> tuple[Incident, HelpPoint | None, list[NewMark], list[int]] | None:
    """Inside ``uow``: the open alarm, its unit, its new marks and the chattering group's
    other alarms, if it gets any new mark (else None)."""
    incident = uow.incidents.get(incident_id)
    if (
        incident is None
        or incident.state is IncidentState.CLOSED
        or incident.priority is not Priority.ACTIVATION
        or incident.on_test
    ):
        return None
    assert incident.id is not None
    unit = uow.units.get(incident.unit_id)
    rules = uow.triage.rules(active_only=True)
    opened = incident.opened_at
    recent = uow.triage.recent_alarms(incident.unit_id, opened - lookback(rules, chatter), opened)
    new, group = _marks(
        incident, unit, rules, recent, uow.triage.marked_by(incident_id), timezone, chatter
    )
    if not new:
        return None
    return incident, unit, new, group


def _marks(
    incident: Incident,
    unit: HelpPoint | None,
    rules: list[SuggestionRule],
    recent: list[RecentAlarm],
    marked: set[str],
    timezone: str,
    chatter: ChatterRule,
) -> tuple[list[NewMark], list[int]]:
    assert incident.id is not None
    return new_marks(
        RecentAlarm(incident.id, incident.opened_at, incident.voice, False),
        incident.unit_id,
        unit.zone_id if unit is not None else "",
        incident.opened_at.astimezone(ZoneInfo(timezone)).hour,
        recent,
        marked,
        rules,
        chatter,
    )


def rule_outcomes(uow: UnitOfWork, since: datetime) -> list[dict[str, Any]]:
    """What each rule (and the chattering check) suggested since `since`, against what the
    operators decided: agreed, another classification, genuine, still open."""
    with uow:
        rows = uow.triage.suggestions_since(since)
    outcomes: dict[str, RuleOutcome] = {}
    for row in rows:
        decided = row.classification if row.closed else None
        outcomes.setdefault(row.rule, RuleOutcome(row.rule)).add(row.suggested, decided)
    return [o.view() for o in outcomes.values()]
