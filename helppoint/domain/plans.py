"""Trigger plans: what the control room does for each classification, per zone or unit.

A `TriggerPlan` belongs to a zone (or overrides the zone's plan for one unit). Its rules map
classifications to `Action`s — notify the police, request an ambulance, alert site security,
inform the council's safeguarding team, alert the supervisor — each with a channel, a target,
a message template and an acknowledgement deadline; a rule may apply only within a named
time window (e.g. night-time economy hours). Plans are built from plain data by `build_plan`,
which reports every problem with where it is, so an invalid plan is never activated.
Pure Python: no I/O.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helppoint.domain.classification import Classification
from helppoint.domain.errors import InvalidInput


class ActionKind(enum.StrEnum):
    """Who an action informs."""

    POLICE = "police"
    AMBULANCE = "ambulance"
    SITE_SECURITY = "site_security"
    COUNCIL_SAFEGUARDING = "council_safeguarding"
    SUPERVISOR = "supervisor"
    #: Maintenance engineers, told of fault tickets (services/maintainers.py).
    MAINTENANCE = "maintenance"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Channel(enum.StrEnum):
    """How an action reaches its recipient."""

    #: HTTPS POST of a JSON incident modelled on NENA/APCO EIDO.
    WEBHOOK = "webhook"
    #: HTTPS POST of an OASIS CAP 1.2 XML alert.
    CAP = "cap"
    #: Email over SMTP.
    EMAIL = "email"
    #: The operator telephones the number; one click records that it was done.
    PHONE = "phone"
    #: An alert in the supervisor's console.
    CONSOLE = "console"

    @property
    def automatic(self) -> bool:
        """Whether the system sends it (through the outbox) rather than a person."""
        return self is not Channel.PHONE


class PlanScope(enum.StrEnum):
    """What a plan applies to: a whole zone, or one unit (overriding its zone's plan)."""

    ZONE = "zone"
    UNIT = "unit"


#: Placeholders a message template may use, filled from the incident.
TEMPLATE_FIELDS: dict[str, str] = {
    "ref": "incident reference, e.g. INC-000042",
    "unit_id": "the unit's id",
    "unit_name": "the unit's name (its location)",
    "zone": "the zone id",
    "classification": "the classification label",
    "latitude": "the unit's latitude",
    "longitude": "the unit's longitude",
    "opened_at": "when the incident opened (UTC, ISO 8601)",
    "operator": "the operator handling the incident",
    "police_urn": "the scheme's police URN",
}

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: The day names a plan may use: the three-letter ones and the full ones.
DAY_NAMES = {
    name: short for short, full in zip(DAYS, _FULL_DAYS, strict=True) for name in (short, full)
}
MAX_ACK_SECONDS = 24 * 3600
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{2,30}$")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class TimeWindow:
    """Days of the week and a time span in the plan's time zone; may run past midnight."""

    name: str
    days: frozenset[int]
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        """Whether a local time falls in the window. A window past midnight (20:00 to 04:00)
        belongs to the day it starts on: Saturday 02:00 is in Friday's window."""
        t = local.time()
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= t < self.end
        if t >= self.start:
            return local.weekday() in self.days
        return t < self.end and (local.weekday() - 1) % 7 in self.days


@dataclass(frozen=True)
class Action:
    """One thing the plan asks for: inform someone through a channel, within a deadline."""

    kind: ActionKind
    channel: Channel
    target: str
    template: str
    ack_within: timedelta | None = None

    def message(self, values: Mapping[str, Any]) -> str:
        """The template filled from an incident's values."""
        return self.template.format_map({k: values.get(k, "") for k in TEMPLATE_FIELDS})


@dataclass(frozen=True)
class Rule:
    """For these classifications (within the window, if one is named) take these actions."""

    classifications: frozenset[Classification]
    actions: tuple[Action, ...]
    window: str | None = None


@dataclass(frozen=True)
class PoliceContact:
    """The scheme's police URN and the number operators call."""

    urn: str
    phone: str


@dataclass(frozen=True)
class TriggerPlan:
    """A zone's (or a unit's) plan: classification → actions, by time window."""

    name: str
    scope: PlanScope
    target_id: str
    timezone: str
    rules: tuple[Rule, ...]
    windows: Mapping[str, TimeWindow] = field(default_factory=dict)
    police: PoliceContact | None = None

    def actions_for(self, classification: Classification, at: datetime) -> tuple[Action, ...]:
        """The actions for a classification at a time: the first rule that matches wins."""
        local = at.astimezone(ZoneInfo(self.timezone))
        for rule in self.rules:
            if classification not in rule.classifications:
                continue
            if rule.window is None or self.windows[rule.window].contains(local):
                return rule.actions
        return ()


@dataclass(frozen=True)
class PlanProblem:
    """One thing wrong with a plan file: where (line and path) and what."""

    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        place = f"line {self.line}" if self.line is not None else "plan"
        return (
            f"{place} ({self.where}): {self.message}" if self.where else f"{place}: {self.message}"
        )


class PlanInvalid(InvalidInput):
    """A plan has problems; it was not activated. `problems` lists every one found."""

    def __init__(self, problems: list[PlanProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        count = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"
        super().__init__(f"the trigger plan is invalid ({count}):\n{lines}")


#: Maps a path in the plan document, e.g. ("rules", 0, "actions"), to its line (or None).
Locate = Callable[[tuple[str | int, ...]], int | None]


def _where(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class _Builder:
    """Collects problems while turning plain data into a TriggerPlan."""

    def __init__(self, locate: Locate) -> None:
        self.locate = locate
        self.problems: list[PlanProblem] = []
        self.window_names: list[str] = []

    def problem(self, path: tuple[str | int, ...], message: str) -> None:
        line = None
        # Fall back to the nearest enclosing item that has a line.
        for cut in range(len(path), -1, -1):
            line = self.locate(path[:cut])
            if line is not None:
                break
        self.problems.append(PlanProblem(line, _where(path), message))

    def mapping(
        self,
        value: Any,
        path: tuple[str | int, ...],
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping of keys to values, not {_kind(value)}")
            return None
        known = required + optional
        for key in value:
            if key not in known:
                self.problem(
                    (*path, str(key)), f"unknown key {key!r}; known keys: {', '.join(known)}"
                )
        for key in required:
            if key not in value:
                self.problem(path, f"missing required key {key!r}")
        return value

    def text(
        self, value: Any, path: tuple[str | int, ...], max_length: int = 200, empty: bool = False
    ) -> str | None:
        if not isinstance(value, str):
            self.problem(path, f"must be text, not {_kind(value)}")
            return None
        text: str = value.strip()
        if not text and not empty:
            self.problem(path, "must not be empty")
            return None
        if len(text) > max_length:
            self.problem(path, f"is too long ({len(text)} characters; at most {max_length})")
            return None
        return text

    def choice(self, value: Any, path: tuple[str | int, ...], enum_type: type[enum.StrEnum]) -> Any:
        options = ", ".join(m.value for m in enum_type)
        if not isinstance(value, str):
            self.problem(path, f"must be one of {options}, not {_kind(value)}")
            return None
        try:
            return enum_type(value.strip())
        except ValueError:
            self.problem(path, f"unknown value {value!r}; use one of: {options}")
            return None

    # --- the parts of a plan -------------------------------------------------------------

    def plan(self, doc: Any) -> TriggerPlan | None:
        data = self.mapping(
            doc, (), ("plan", "rules"), ("zone", "unit", "timezone", "police", "windows")
        )
        if data is None:
            return None
        name = self.text(data.get("plan"), ("plan",)) if "plan" in data else None
        scope, target = self.scope(data)
        timezone = self.timezone(data.get("timezone", "Europe/London"))
        police = self.police(data["police"]) if "police" in data else None
        windows = self.windows(data.get("windows", {}))
        rules = self.rules(data.get("rules"), windows) if "rules" in data else ()
        if self.problems:
            return None
        assert name is not None and scope is not None and target is not None
        assert timezone is not None and windows is not None
        return TriggerPlan(name, scope, target, timezone, rules, windows, police)

    def scope(self, data: dict[str, Any]) -> tuple[PlanScope | None, str | None]:
        has_zone, has_unit = "zone" in data, "unit" in data
        if has_zone == has_unit:
            self.problem(
                (),
                "say what the plan is for with exactly one of 'zone: ZONE-ID' or "
                "'unit: UNIT-ID' (a unit plan overrides its zone's plan)",
            )
            return None, None
        key = "zone" if has_zone else "unit"
        target = self.text(data[key], (key,), max_length=64)
        return (PlanScope(key), target) if target is not None else (None, None)

    def timezone(self, value: Any) -> str | None:
        name = self.text(value, ("timezone",), max_length=64)
        if name is None:
            return None
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(("timezone",), f"unknown time zone {name!r} (e.g. Europe/London)")
            return None
        return name

    def police(self, value: Any) -> PoliceContact | None:
        data = self.mapping(value, ("police",), ("urn", "phone"))
        if data is None or not {"urn", "phone"} <= data.keys():
            return None
        urn = self.text(data["urn"], ("police", "urn"), max_length=64)
        phone = self.text(_as_text(data["phone"]), ("police", "phone"), max_length=40)
        if phone is not None and not _PHONE.match(phone):
            self.problem(("police", "phone"), f"{phone!r} is not a telephone number")
            return None
        return PoliceContact(urn, phone) if urn is not None and phone is not None else None

    def windows(self, value: Any) -> dict[str, TimeWindow] | None:
        if not isinstance(value, dict):
            self.problem(("windows",), f"must be a mapping of window names, not {_kind(value)}")
            return None
        windows: dict[str, TimeWindow] = {}
        self.window_names.extend(str(name) for name in value)
        for name, spec in value.items():
            path: tuple[str | int, ...] = ("windows", str(name))
            if not isinstance(name, str) or not _NAME.match(name):
                self.problem(path, "a window name is lower-case letters, digits, - or _")
                continue
            window = self.window(name, spec, path)
            if window is not None:
                windows[name] = window
        return windows

    def window(self, name: str, spec: Any, path: tuple[str | int, ...]) -> TimeWindow | None:
        data = self.mapping(spec, path, ("from", "to"), ("days",))
        if data is None:
            return None
        days = self.days(data.get("days", list(DAYS)), (*path, "days"))
        start = self.clock(data["from"], (*path, "from")) if "from" in data else None
        end = self.clock(data["to"], (*path, "to")) if "to" in data else None
        if start is not None and end is not None and start == end:
            self.problem(path, "'from' and 'to' are the same time: the window would be empty")
            return None
        if days is None or start is None or end is None:
            return None
        return TimeWindow(name, days, start, end)

    def days(self, value: Any, path: tuple[str | int, ...]) -> frozenset[int] | None:
        if not isinstance(value, list) or not value:
            self.problem(path, f"must be a list of days ({', '.join(DAYS)})")
            return None
        days: set[int] = set()
        for index, day in enumerate(value):
            # "thu" or "thursday", any case; not "thur", "thu_" or "thursdays".
            key = DAY_NAMES.get(day.strip().lower()) if isinstance(day, str) else None
            if key is None:
                self.problem(
                    (*path, index),
                    f"{day!r} is not a day; use {', '.join(DAYS)} (or the full names)",
                )
                return None
            days.add(DAYS.index(key))
        return frozenset(days)

    def clock(self, value: Any, path: tuple[str | int, ...]) -> time | None:
        match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
        if match is None:
            self.problem(path, f'{value!r} is not a time of day as HH:MM (24-hour), e.g. "20:00"')
            return None
        return time(int(match[1]), int(match[2]))

    def rules(self, value: Any, windows: dict[str, TimeWindow] | None) -> tuple[Rule, ...]:
        if not isinstance(value, list) or not value:
            self.problem(("rules",), "must be a non-empty list of rules")
            return ()
        rules: list[Rule] = []
        always: dict[Classification, int] = {}
        for index, spec in enumerate(value):
            path: tuple[str | int, ...] = ("rules", index)
            rule = self.rule(spec, path, windows)
            if rule is None:
                continue
            for classification in sorted(rule.classifications):
                if classification in always:
                    self.problem(
                        (*path, "when"),
                        f"{classification.value} is already handled at all times by rule "
                        f"{always[classification] + 1}, so this rule would never apply to it",
                    )
                elif rule.window is None:
                    always[classification] = index
            rules.append(rule)
        return tuple(rules)

    def rule(
        self, spec: Any, path: tuple[str | int, ...], windows: dict[str, TimeWindow] | None
    ) -> Rule | None:
        data = self.mapping(spec, path, ("when", "actions"), ("window",))
        if data is None or not {"when", "actions"} <= data.keys():
            return None
        classifications = self.classifications(data["when"], (*path, "when"))
        window = None
        window_ok = True
        if "window" in data:
            window = self.text(data["window"], (*path, "window"), max_length=64)
            # A window that is defined but has its own problems was reported already.
            window_ok = window is not None and window in (windows or {})
            if window is not None and window not in self.window_names:
                known = ", ".join(self.window_names) or "none are defined under 'windows'"
                self.problem((*path, "window"), f"unknown window {window!r}; known: {known}")
        actions = self.actions(data["actions"], (*path, "actions"))
        if classifications is None or actions is None or not window_ok:
            return None
        return Rule(classifications, actions, window)

    def classifications(
        self, value: Any, path: tuple[str | int, ...]
    ) -> frozenset[Classification] | None:
        items = value if isinstance(value, list) else [value]
        if not items:
            self.problem(path, "must name at least one classification")
            return None
        found: set[Classification] = set()
        for index, item in enumerate(items):
            item_path = (*path, index) if isinstance(value, list) else path
            classification = self.choice(item, item_path, Classification)
            if classification is None:
                return None
            found.add(classification)
        return frozenset(found)

    def actions(self, value: Any, path: tuple[str | int, ...]) -> tuple[Action, ...] | None:
        if not isinstance(value, list):
            self.problem(path, f"must be a list of actions, not {_kind(value)}")
            return None
        actions = [self.action(spec, (*path, i)) for i, spec in enumerate(value)]
        if any(a is None for a in actions):
            return None
        return tuple(a for a in actions if a is not None)

    def action(self, spec: Any, path: tuple[str | int, ...]) -> Action | None:
        data = self.mapping(spec, path, ("notify", "channel", "template"), ("to", "ack_within"))
        if data is None or not {"notify", "channel", "template"} <= data.keys():
            return None
        kind = self.choice(data["notify"], (*path, "notify"), ActionKind)
        channel = self.choice(data["channel"], (*path, "channel"), Channel)
        template = self.template(data["template"], (*path, "template"))
        target = self.target(channel, _as_text(data.get("to", "")), (*path, "to"))
        ack_within = None
        if "ack_within" in data:
            ack_within = self.seconds(data["ack_within"], (*path, "ack_within"))
            if ack_within is None:
                return None
        if kind is None or channel is None or template is None or target is None:
            return None
        return Action(kind, channel, target, template, ack_within)

    def template(self, value: Any, path: tuple[str | int, ...]) -> str | None:
        text = self.text(value, path, max_length=2000)
        if text is None:
            return None
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError as exc:
            self.problem(path, f"bad braces in the template ({exc}); write {{{{ for a literal {{")
            return None
        for name in names:
            if name not in TEMPLATE_FIELDS:
                fields_ = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
                self.problem(path, f"unknown placeholder {{{name}}}; use {fields_}")
                return None
        return text

    def target(
        self, channel: Channel | None, value: Any, path: tuple[str | int, ...]
    ) -> str | None:
        text = value.strip() if isinstance(value, str) else None
        if channel is None:
            return text
        if text is None:
            self.problem(path, f"must be text, not {_kind(value)}")
            return None
        if channel is Channel.CONSOLE:
            if text:
                self.problem(path, "a console alert goes to the supervisors: leave out 'to'")
                return None
            return ""
        if not text:
            self.problem(path, f"a {channel.value} action needs 'to' ({_TARGETS[channel]})")
            return None
        if channel in (Channel.WEBHOOK, Channel.CAP):
            problem = _url_problem(text)
        elif channel is Channel.EMAIL:
            problem = None if _EMAIL.match(text) else f"{text!r} is not an email address"
        else:
            problem = None if _PHONE.match(text) else f"{text!r} is not a telephone number"
        if problem:
            self.problem(path, problem)
            return None
        return text

    def seconds(self, value: Any, path: tuple[str | int, ...]) -> timedelta | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"must be a whole number of seconds, not {_kind(value)}")
            return None
        if not 1 <= value <= MAX_ACK_SECONDS:
            self.problem(path, f"must be between 1 and {MAX_ACK_SECONDS} seconds, not {value}")
            return None
        return timedelta(seconds=value)


_TARGETS = {
    Channel.WEBHOOK: "an https:// URL",
    Channel.CAP: "an https:// URL",
    Channel.EMAIL: "an email address",
    Channel.PHONE: "a telephone number",
}


def _url_problem(text: str) -> str | None:
    parts = urlsplit(text)
    if not parts.hostname:
        return f"{text!r} is not a URL (e.g. https://cad.police.example/alerts)"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return None  # a receiver on this machine (tests, a local relay)
    return f"{text!r} must use https:// (plain http only to this machine)"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _as_text(value: Any) -> Any:
    # A phone number written without quotes reads as a number; it is text all the same.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def build_plan(document: Any, locate: Locate | None = None) -> TriggerPlan:
    """Build and validate a plan from plain data; raise PlanInvalid listing every problem."""
    builder = _Builder(locate or (lambda path: None))
    plan = builder.plan(document)
    if builder.problems or plan is None:
        raise PlanInvalid(builder.problems or [PlanProblem(None, "", "the plan is empty")])
    return plan


def plan_document(plan: TriggerPlan) -> dict[str, Any]:
    """A plan as plain data that `build_plan` accepts (for export)."""
    doc: dict[str, Any] = {"plan": plan.name, plan.scope.value: plan.target_id}
    doc["timezone"] = plan.timezone
    if plan.police is not None:
        doc["police"] = {"urn": plan.police.urn, "phone": plan.police.phone}
    if plan.windows:
        doc["windows"] = {
            name: {
                "days": [DAYS[d] for d in sorted(w.days)],
                "from": w.start.strftime("%H:%M"),
                "to": w.end.strftime("%H:%M"),
            }
            for name, w in plan.windows.items()
        }
    rules = []
    for rule in plan.rules:
        spec: dict[str, Any] = {"when": sorted(c.value for c in rule.classifications)}
        if rule.window is not None:
            spec["window"] = rule.window
        spec["actions"] = []
        for action in rule.actions:
            item: dict[str, Any] = {"notify": action.kind.value, "channel": action.channel.value}
            if action.target:
                item["to"] = action.target
            item["template"] = action.template
            if action.ack_within is not None:
                item["ack_within"] = int(action.ack_within.total_seconds())
            spec["actions"].append(item)
        rules.append(spec)
    doc["rules"] = rules
    return doc


@dataclass(eq=False)
class StoredPlan:
    """The active plan of a zone or unit as stored: its file as imported, and who set it."""

    scope: PlanScope
    target_id: str
    name: str
    source: str
    updated_at: datetime
    updated_by: str
    version: int = 1
    id: int | None = None
