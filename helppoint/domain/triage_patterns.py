"""Patterns of activations and the supervisor's suggestion rules (docs/triage.md). Pure Python.

As ARC platforms do: per unit, how often it is pressed, how much of it is false and at which
hours the false ones come; units pressed far more than the rest ("hyperactive", where signage,
lighting or placement may need to change); a unit pressed again and again with no voice heard
("chattering"), grouped and marked; and rules a supervisor writes that mark an alarm and
suggest a classification. Rules and marks never close an activation: an operator decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from helppoint.domain.classification import Category, Classification
from helppoint.domain.errors import InvalidInput
from helppoint.domain.triage import Voice

#: A unit whose alarms (not on test) in one day reach this many is hyperactive that day.
HYPERACTIVE_ALARMS = 5
#: The mark and group of a chattering unit's alarms.
CHATTERING = "chattering"


@dataclass(frozen=True)
class ChatterRule:
    """When a unit is chattering: `alarms` or more of its alarms within `window`, none with a
    voice heard. The scheme's own setting (chatter_alarms, chatter_minutes), not a standard's."""

    alarms: int = 3
    window: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if not 2 <= self.alarms <= 1000:
            raise InvalidInput("chattering needs 2-1000 alarms")
        if not timedelta(minutes=1) <= self.window <= timedelta(hours=24):
            raise InvalidInput("chattering is counted over 1 minute to 24 hours")


#: The default: 3 alarms within 30 minutes.
DEFAULT_CHATTER = ChatterRule()


@dataclass(frozen=True)
class AlarmFact:
    """One alarm (an activation incident, not on test) as the patterns see it."""

    unit_id: str
    opened_at: datetime
    local_hour: int
    classification: Classification | None
    voice: Voice | None
    event_count: int = 1


@dataclass
class UnitPattern:
    """How one unit was pressed over a period."""

    unit_id: str
    alarms: int = 0
    presses: int = 0
    classified: int = 0
    false: int = 0
    genuine: int = 0
    silent: int = 0
    #: False activations by local hour of the day (0-23).
    false_by_hour: list[int] = field(default_factory=lambda: [0] * 24)

    def add(self, alarm: AlarmFact) -> None:
        self.alarms += 1
        self.presses += alarm.event_count
        if alarm.voice is Voice.SILENT:
            self.silent += 1
        if alarm.classification is None:
            return
        self.classified += 1
        if alarm.classification.category is Category.FALSE:
            self.false += 1
            self.false_by_hour[alarm.local_hour] += 1
        elif alarm.classification.category is Category.GENUINE:
            self.genuine += 1

    @property
    def false_share(self) -> float | None:
        """False activations among the classified ones (None: none classified)."""
        return self.false / self.classified if self.classified else None

    def prank_hours(self, top: int = 3) -> list[int]:
        """The local hours with the most false activations, most first (ties: earlier)."""
        ranked = sorted(range(24), key=lambda hour: (-self.false_by_hour[hour], hour))
        return [hour for hour in ranked[:top] if self.false_by_hour[hour] > 0]

    def view(self, hours: float) -> dict[str, object]:
        share = self.false_share
        return {
            "unit_id": self.unit_id,
            "alarms": self.alarms,
            "presses": self.presses,
            "presses_per_hour": round(self.presses / hours, 3) if hours > 0 else None,
            "classified": self.classified,
            "false": self.false,
            "genuine": self.genuine,
            "false_share": round(share, 3) if share is not None else None,
            "silent": self.silent,
            "false_by_hour": list(self.false_by_hour),
            "prank_hours": self.prank_hours(),
        }


def unit_patterns(alarms: Iterable[AlarmFact]) -> dict[str, UnitPattern]:
    """Each unit's pattern from its alarms."""
    patterns: dict[str, UnitPattern] = {}
    for alarm in alarms:
        patterns.setdefault(alarm.unit_id, UnitPattern(alarm.unit_id)).add(alarm)
    return patterns


def hyperactive(
    patterns: dict[str, UnitPattern], days: float, per_day: int = HYPERACTIVE_ALARMS
) -> list[UnitPattern]:
    """Units with at least `per_day` alarms a day on average over `days`, most first."""
    limit = per_day * max(days, 1e-9)
    found = [p for p in patterns.values() if p.alarms >= limit]
    return sorted(found, key=lambda p: (-p.alarms, p.unit_id))


def chattering(
    recent: Iterable[tuple[datetime, Voice | None]],
    at: datetime,
    rule: ChatterRule = DEFAULT_CHATTER,
) -> bool:
    """Whether a unit's alarms opened within the rule's window before `at` (with their voice
    judgements) make it chattering: the rule's number or more, and none with a voice heard."""
    window = [voice for opened, voice in recent if at - rule.window <= opened <= at]
    return len(window) >= rule.alarms and Voice.VOICE not in window


# ---------- suggestion rules ----------

_MARK = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,31}$")
#: What a rule may look for in the press-time audio: a judgement, or "none" (not judged).
VOICE_CONDITIONS = ("silent", "noisy", "none")


@dataclass(frozen=True)
class RuleFacts:
    """What a rule is matched against: one open alarm and its unit's recent alarms."""

    unit_id: str
    zone_id: str
    local_hour: int
    voice: Voice | None
    #: Alarms of the unit opened within the rule's window, this one included.
    recent_alarms: int


@dataclass(eq=False)
class SuggestionRule:
    """A supervisor's rule: alarms that match it are marked and get a suggested
    classification. It never closes anything."""

    name: str
    mark: str
    suggest: Classification | None = None
    unit_id: str | None = None
    zone_id: str | None = None
    #: Local hours [from, to) in which it applies; from > to runs past midnight (22-4).
    hour_from: int | None = None
    hour_to: int | None = None
    #: The press-time audio it looks for (VOICE_CONDITIONS); None: any. A voice heard never
    #: matches: a rule must not talk an operator out of a caller who spoke.
    voice: str | None = None
    #: At least this many alarms of the unit within `within_minutes` (this one included).
    min_alarms: int = 1
    within_minutes: int = 60
    active: bool = True
    id: int | None = None

    def __post_init__(self) -> None:
        self.name = self.name.strip()
        self.mark = self.mark.strip().lower()
        if not 1 <= len(self.name) <= 100:
            raise InvalidInput("a rule needs a name (1-100 characters)")
        if not _MARK.match(self.mark):
            raise InvalidInput("a rule's mark is 1-32 lower-case letters, digits, spaces, - or _")
        if self.suggest is not None and self.suggest.category is not Category.FALSE:
            raise InvalidInput("a rule may only suggest a false-activation classification")
        if (self.hour_from is None) != (self.hour_to is None):
            raise InvalidInput("give both hours of a rule's time of day, or neither")
        for hour in (self.hour_from, self.hour_to):
            if hour is not None and not 0 <= hour <= 23:
                raise InvalidInput("hours are 0-23")
        if self.hour_from is not None and self.hour_from == self.hour_to:
            raise InvalidInput("a rule's hours must not start and end at the same hour")
        if self.voice is not None and self.voice not in VOICE_CONDITIONS:
            raise InvalidInput(f"a rule's voice condition is one of {', '.join(VOICE_CONDITIONS)}")
        if not 1 <= self.min_alarms <= 100:
            raise InvalidInput("min_alarms is 1-100")
        if not 1 <= self.within_minutes <= 24 * 60:
            raise InvalidInput("within_minutes is 1-1440")

    def matches(self, facts: RuleFacts) -> bool:
        """Whether an open alarm with these facts is marked by this rule."""
        if not self.active or facts.voice is Voice.VOICE:
            return False
        if self.unit_id is not None and facts.unit_id != self.unit_id:
            return False
        if self.zone_id is not None and facts.zone_id != self.zone_id:
            return False
        if self.hour_from is not None and self.hour_to is not None:
            if self.hour_from < self.hour_to:
                inside = self.hour_from <= facts.local_hour < self.hour_to
            else:
                inside = facts.local_hour >= self.hour_from or facts.local_hour < self.hour_to
            if not inside:
                return False
        if self.voice is not None:
            heard = facts.voice.value if facts.voice is not None else "none"
            if heard != self.voice:
                return False
        return facts.recent_alarms >= self.min_alarms


class RecentAlarm(NamedTuple):
    """One of a unit's alarms (not on test) shortly before the one being marked."""

    id: int
    opened_at: datetime
    voice: Voice | None
    closed: bool


@dataclass(frozen=True)
class NewMark:
    """A mark a rule (or the chattering check, rule_id None) puts on an alarm."""

    rule: str
    rule_id: int | None
    mark: str
    suggest: Classification | None


def lookback(rules: Iterable[SuggestionRule], chatter: ChatterRule) -> timedelta:
    """How far back a unit's alarms matter to the chattering check and these rules."""
    return max([chatter.window] + [timedelta(minutes=r.within_minutes) for r in rules])


def new_marks(
    alarm: RecentAlarm,
    unit_id: str,
    zone_id: str,
    local_hour: int,
    recent: list[RecentAlarm],
    done: set[str],
    rules: Iterable[SuggestionRule],
    chatter: ChatterRule,
) -> tuple[list[NewMark], list[int]]:
    """The marks an open alarm gets that it has not yet got (`done`: the rules that marked it
    already), chattering first then the rules in order; and, when its unit is chattering, the
    unit's other open alarms in the chatter window, to be grouped with it. `recent`: the unit's
    alarms opened within `lookback` before this one, this one included."""
    opened_at = alarm.opened_at
    marks: list[NewMark] = []
    group: list[int] = []
    if CHATTERING not in done and chattering(
        [(r.opened_at, r.voice) for r in recent], opened_at, chatter
    ):
        marks.append(NewMark(CHATTERING, None, CHATTERING, None))
        group = [
            r.id
            for r in recent
            if r.id != alarm.id and not r.closed and r.opened_at >= opened_at - chatter.window
        ]
    for rule in rules:
        if rule.name in done:
            continue
        window = timedelta(minutes=rule.within_minutes)
        facts = RuleFacts(
            unit_id=unit_id,
            zone_id=zone_id,
            local_hour=local_hour,
            voice=alarm.voice,
            recent_alarms=sum(1 for r in recent if r.opened_at >= opened_at - window),
        )
        if rule.matches(facts):
            marks.append(NewMark(rule.name, rule.id, rule.mark, rule.suggest))
    return marks, group


@dataclass
class RuleOutcome:
    """What a rule suggested against what operators decided."""

    rule: str
    suggested: int = 0
    open: int = 0
    #: Closed with the suggested classification.
    agreed: int = 0
    #: Closed with another false classification, or a technical/unknown one.
    other: int = 0
    #: Classified genuine: the rule's suggestion was wrong about a real call.
    genuine: int = 0

    def add(self, suggested: Classification | None, decided: Classification | None) -> None:
        self.suggested += 1
        if decided is None:
            self.open += 1
        elif decided.category is Category.GENUINE:
            self.genuine += 1
        elif suggested is not None and decided is suggested:
            self.agreed += 1
        else:
            self.other += 1

    def view(self) -> dict[str, object]:
        decided = self.agreed + self.other + self.genuine
        return {
            "rule": self.rule,
            "suggested": self.suggested,
            "open": self.open,
            "agreed": self.agreed,
            "other": self.other,
            "genuine": self.genuine,
            "agreed_share": round(self.agreed / decided, 3) if decided else None,
        }
