"""Patterns and suggestion rules (docs/triage.md): per-unit patterns, the hyperactive units,
chattering units, and the supervisor's rules, which mark open alarms and suggest a
classification. Nothing here closes or classifies an incident: operators decide.

`hyperactive_units(uow, start, end, ...)` is the one function the daily list and the monthly
report share.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from helppoint.domain.classification import Classification
from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.events import Priority
from helppoint.domain.model import AuditEntry, IncidentState
from helppoint.domain.triage_patterns import (
    CHATTERING,
    DEFAULT_CHATTER,
    HYPERACTIVE_ALARMS,
    AlarmFact,
    ChatterRule,
    RuleFacts,
    RuleOutcome,
    SuggestionRule,
    chattering,
    hyperactive,
    unit_patterns,
)
from helppoint.services.clock import utcnow
from helppoint.services.incidents import record_change
from helppoint.services.triage import TRIAGE_ACTOR
from helppoint.services.views import incident_view
from helppoint.store import tables as t
from helppoint.store.tables_triage import triage_rules, triage_suggestions
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic

# ---------- patterns ----------


def _alarm_facts(
    uow: UnitOfWork, start: datetime, end: datetime, zone: ZoneInfo
) -> list[AlarmFact]:
    c = t.incidents.c
    rows = uow.session.execute(
        select(c.unit_id, c.opened_at, c.classification, c.voice, c.event_count).where(
            c.priority == int(Priority.ACTIVATION),
            c.on_test.is_(False),
            c.opened_at >= start,
            c.opened_at < end,
        )
    ).all()
    return [
        AlarmFact(
            unit_id=row.unit_id,
            opened_at=row.opened_at,
            local_hour=row.opened_at.astimezone(zone).hour,
            classification=row.classification,
            voice=row.voice,
            event_count=row.event_count,
        )
        for row in rows
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
        rules = uow.session.scalars(select(SuggestionRule).order_by(triage_rules.c.id)).all()
        return [rule_view(r) for r in rules]


def add_rule(
    uow: UnitOfWork, spec: dict[str, Any], by: str, address: str | None = None
) -> dict[str, Any]:
    """A new suggestion rule (checked by SuggestionRule); audited."""
    rule = SuggestionRule(**spec)
    with uow:
        if uow.session.scalar(select(triage_rules.c.id).where(triage_rules.c.name == rule.name)):
            raise InvalidInput(f"a rule named {rule.name!r} exists already")
        if rule.unit_id is not None and uow.units.get(rule.unit_id) is None:
            raise InvalidInput(f"unit {rule.unit_id} does not exist")
        if rule.zone_id is not None and uow.zones.get(rule.zone_id) is None:
            raise InvalidInput(f"zone {rule.zone_id} does not exist")
        uow.session.add(rule)
        uow.flush()
        uow.session.execute(
            triage_rules.update()
            .where(triage_rules.c.id == rule.id)
            .values(created_by=by, created_at=utcnow())
        )
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
        rule = uow.session.get(SuggestionRule, rule_id)
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
) -> dict[str, Any] | None:
    """Mark an open alarm as its unit's pattern and the active rules say, and suggest the
    first matching rule's classification; its view if anything new was marked, else None.

    A chattering unit's open alarms in the window are all marked (grouped), as the scheme's
    `chatter` rule says. Each rule marks an
    alarm once. Nothing is classified or closed."""
    now = utcnow()
    with uow:
        incident = uow.incidents.get(incident_id)
        if (
            incident is None
            or incident.state is IncidentState.CLOSED
            or incident.priority is not Priority.ACTIVATION
            or incident.on_test
        ):
            return None
        unit = uow.units.get(incident.unit_id)
        rules = [
            r
            for r in uow.session.scalars(
                select(SuggestionRule)
                .where(triage_rules.c.active.is_(True))
                .order_by(triage_rules.c.id)
            ).all()
        ]
        longest = max([chatter.window] + [timedelta(minutes=r.within_minutes) for r in rules])
        c = t.incidents.c
        recent = uow.session.execute(
            select(c.id, c.opened_at, c.voice, c.state).where(
                c.unit_id == incident.unit_id,
                c.priority == int(Priority.ACTIVATION),
                c.on_test.is_(False),
                c.opened_at >= incident.opened_at - longest,
                c.opened_at <= incident.opened_at,
            )
        ).all()
        done = set(
            uow.session.scalars(
                select(triage_suggestions.c.rule).where(
                    triage_suggestions.c.incident_id == incident_id
                )
            ).all()
        )
        new: list[tuple[str, int | None, str, Classification | None]] = []
        group: list[int] = []
        if CHATTERING not in done and chattering(
            [(r.opened_at, r.voice) for r in recent], incident.opened_at, chatter
        ):
            new.append((CHATTERING, None, CHATTERING, None))
            group = [
                r.id
                for r in recent
                if r.id != incident_id
                and r.state != IncidentState.CLOSED
                and r.opened_at >= incident.opened_at - chatter.window
            ]
        local_hour = incident.opened_at.astimezone(ZoneInfo(timezone)).hour
        for rule in rules:
            if rule.name in done:
                continue
            window = timedelta(minutes=rule.within_minutes)
            facts = RuleFacts(
                unit_id=incident.unit_id,
                zone_id=unit.zone_id if unit is not None else "",
                local_hour=local_hour,
                voice=incident.voice,
                recent_alarms=sum(1 for r in recent if r.opened_at >= incident.opened_at - window),
            )
            if rule.matches(facts):
                new.append((rule.name, rule.id, rule.mark, rule.suggest))
        if not new:
            return None
        for name, rule_id, mark, suggested in new:
            try:
                with uow.session.begin_nested():  # another process may have marked it first
                    uow.session.execute(
                        insert(triage_suggestions).values(
                            incident_id=incident_id,
                            rule=name,
                            rule_id=rule_id,
                            mark=mark,
                            suggested=suggested.value if suggested is not None else None,
                            at=now,
                        )
                    )
            except IntegrityError:
                return None
        mark = incident.mark or new[0][2]
        suggestion = next(((s, n) for n, _, _, s in new if s is not None), None)
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
                uow.session.refresh(other_incident)
                uow.publish_after_commit(Topic.INCIDENTS, incident_view(other_incident, unit))
        uow.session.refresh(incident)
        view = record_change(
            uow,
            incident,
            TRIAGE_ACTOR,
            "triage.suggested",
            None,
            rules=[name for name, *_ in new],
            mark=mark,
            suggested=suggested.value if suggested is not None else None,
        )
        uow.commit()
        return view


def rule_outcomes(uow: UnitOfWork, since: datetime) -> list[dict[str, Any]]:
    """What each rule (and the chattering check) suggested since `since`, against what the
    operators decided: agreed, another classification, genuine, still open."""
    s, c = triage_suggestions.c, t.incidents.c
    with uow:
        rows = uow.session.execute(
            select(s.rule, s.suggested, c.classification, c.state)
            .join(t.incidents, c.id == s.incident_id)
            .where(s.at >= since)
            .order_by(s.rule)
        ).all()
    outcomes: dict[str, RuleOutcome] = {}
    for rule, suggested, decided, state in rows:
        closed = state == IncidentState.CLOSED
        outcomes.setdefault(rule, RuleOutcome(rule)).add(suggested, decided if closed else None)
    return [o.view() for o in outcomes.values()]
