"""Triage patterns and rules (domain/triage_patterns.py): the supervisor's suggestion rules,
the marks they (and the chattering check) put on alarms, and the alarm facts patterns are
drawn from. An alarm is an activation incident of a unit not on test."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helppoint.domain.classification import Classification
from helppoint.domain.events import Priority
from helppoint.domain.model import IncidentState
from helppoint.domain.triage import Voice
from helppoint.domain.triage_patterns import RecentAlarm, SuggestionRule
from helppoint.store import tables as t
from helppoint.store.tables_triage import triage_rules, triage_suggestions


class AlarmRow(NamedTuple):
    unit_id: str
    opened_at: datetime
    classification: Classification | None
    voice: Voice | None
    event_count: int


class SuggestionRow(NamedTuple):
    """A mark put on an alarm, and what became of the alarm."""

    rule: str
    suggested: Classification | None
    classification: Classification | None
    closed: bool


# Built once: a statement with `in_(list)` built anew for each call leaves its bound parameters
# in reference cycles once executed (see repositories.py `_load_units`); these run for every
# new alarm (triage's marks).
_MARKED_BY = select(triage_suggestions.c.incident_id, triage_suggestions.c.rule).where(
    triage_suggestions.c.incident_id.in_(bindparam("b_ids", expanding=True))
)
_RECENT_ALARMS = select(
    t.incidents.c.unit_id,
    t.incidents.c.id,
    t.incidents.c.opened_at,
    t.incidents.c.voice,
    t.incidents.c.state,
).where(
    t.incidents.c.unit_id.in_(bindparam("b_units", expanding=True)),
    t.incidents.c.priority == int(Priority.ACTIVATION),
    t.incidents.c.on_test.is_(False),
    t.incidents.c.opened_at >= bindparam("b_start"),
    t.incidents.c.opened_at <= bindparam("b_end"),
)


class TriageRepository:
    """Suggestion rules, the marks on alarms, and alarm facts."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- rules ------------------------------------------------------------------------------

    def rules(self, active_only: bool = False) -> list[SuggestionRule]:
        """The rules (or only the active ones) in the order they were added."""
        query = select(SuggestionRule).order_by(triage_rules.c.id)
        if active_only:
            query = query.where(triage_rules.c.active.is_(True))
        return list(self.session.scalars(query))

    def get_rule(self, rule_id: int) -> SuggestionRule | None:
        return self.session.get(SuggestionRule, rule_id)

    def rule_named(self, name: str) -> bool:
        """Whether a rule of this name exists."""
        c = triage_rules.c
        return self.session.scalar(select(c.id).where(c.name == name)) is not None

    def add_rule(self, rule: SuggestionRule, by: str, at: datetime) -> None:
        """Store a rule (its id is set) with who added it and when."""
        self.session.add(rule)
        self.session.flush()
        self.session.execute(
            update(triage_rules)
            .where(triage_rules.c.id == rule.id)
            .values(created_by=by, created_at=at)
        )

    # -- marks ------------------------------------------------------------------------------

    def marked_by(self, incident_id: int) -> set[str]:
        """The rules (and chattering) that marked an alarm already."""
        s = triage_suggestions.c
        return set(self.session.scalars(select(s.rule).where(s.incident_id == incident_id)))

    def marked_by_each(self, incident_ids: Collection[int]) -> dict[int, set[str]]:
        """`marked_by` of many alarms in one query (an alarm with no mark is left out)."""
        found: dict[int, set[str]] = {}
        for incident_id, rule in self.session.execute(_MARKED_BY, {"b_ids": list(incident_ids)}):
            found.setdefault(incident_id, set()).add(rule)
        return found

    def add_mark(
        self,
        incident_id: int,
        rule: str,
        rule_id: int | None,
        mark: str,
        suggested: Classification | None,
        at: datetime,
    ) -> bool:
        """Record a rule's mark on an alarm; False if that rule marked it already (another
        process may have marked it first)."""
        try:
            with self.session.begin_nested():
                self.session.execute(
                    insert(triage_suggestions).values(
                        incident_id=incident_id,
                        rule=rule,
                        rule_id=rule_id,
                        mark=mark,
                        suggested=suggested.value if suggested is not None else None,
                        at=at,
                    )
                )
        except IntegrityError:
            return False
        return True

    def suggestions_since(self, since: datetime) -> list[SuggestionRow]:
        """Every mark put since `since`, by rule, with its alarm's classification and state."""
        s, c = triage_suggestions.c, t.incidents.c
        rows = self.session.execute(
            select(s.rule, s.suggested, c.classification, c.state)
            .join(t.incidents, c.id == s.incident_id)
            .where(s.at >= since)
            .order_by(s.rule)
        )
        return [
            SuggestionRow(rule, suggested, decided, state == IncidentState.CLOSED)
            for rule, suggested, decided, state in rows
        ]

    # -- alarms -----------------------------------------------------------------------------

    def alarms_between(self, start: datetime, end: datetime) -> list[AlarmRow]:
        """Every alarm opened from `start` to before `end`."""
        c = t.incidents.c
        rows = self.session.execute(
            select(c.unit_id, c.opened_at, c.classification, c.voice, c.event_count).where(
                c.priority == int(Priority.ACTIVATION),
                c.on_test.is_(False),
                c.opened_at >= start,
                c.opened_at < end,
            )
        )
        return [AlarmRow(*row) for row in rows]

    def recent_alarms(self, unit_id: str, start: datetime, end: datetime) -> list[RecentAlarm]:
        """A unit's alarms opened from `start` to `end` (both included)."""
        c = t.incidents.c
        rows = self.session.execute(
            select(c.id, c.opened_at, c.voice, c.state).where(
                c.unit_id == unit_id,
                c.priority == int(Priority.ACTIVATION),
                c.on_test.is_(False),
                c.opened_at >= start,
                c.opened_at <= end,
            )
        )
        return [
            RecentAlarm(alarm_id, opened_at, voice, state == IncidentState.CLOSED)
            for alarm_id, opened_at, voice, state in rows
        ]

    def recent_alarms_of(
        self, unit_ids: Collection[str], start: datetime, end: datetime
    ) -> dict[str, list[RecentAlarm]]:
        """`recent_alarms` of many units in one query, by unit (a unit with none left out)."""
        rows = self.session.execute(
            _RECENT_ALARMS, {"b_units": list(unit_ids), "b_start": start, "b_end": end}
        )
        found: dict[str, list[RecentAlarm]] = {}
        for unit_id, alarm_id, opened_at, voice, state in rows:
            found.setdefault(unit_id, []).append(
                RecentAlarm(alarm_id, opened_at, voice, state == IncidentState.CLOSED)
            )
        return found
