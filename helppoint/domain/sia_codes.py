"""What a SIA DC-03 or Contact ID event code means here: its category, priority and handling.

Every code of the published tables (`sia_code_tables.py`, generated from them) falls into one
category by the rules below, which read the tables themselves: the words of a code's name
("Trouble", "Restoral", "Tamper", "Bypass", "Test" …) and, for Contact ID, the standard's
number ranges (1xx alarms by kind, 2xx supervisory, 3xx troubles, 4xx opening, closing and
access, 5xx bypasses and disables, 6xx tests and records). No code is placed by hand.

A category has a priority (the incident it opens) and a handling the scheme's admin chooses
(`Handling`): an incident in the operator queue, supervision only (a passed self-test for a
test report; a maintenance ticket, without an incident, for anything else), or log only
(stored on the unit's record). A code missing from the tables is `UNMAPPED`: stored and
flagged, never refused.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass

from helppoint.domain.events import SUPERVISION_ONLY, Priority
from helppoint.domain.sia_code_tables import CONTACT_ID, SIA_DC03


class Category(enum.StrEnum):
    """What kind of event a code reports."""

    PANIC = "panic"
    MEDICAL = "medical"
    FIRE = "fire"
    INTRUSION = "intrusion"
    HAZARD = "hazard"
    ALARM = "alarm"
    TAMPER = "tamper"
    TROUBLE = "trouble"
    SUPERVISORY = "supervisory"
    TEST = "test"
    RESTORAL = "restoral"
    OPEN_CLOSE = "open_close"
    ACCESS = "access"
    BYPASS = "bypass"
    SYSTEM = "system"
    UNMAPPED = "unmapped"


class Handling(enum.StrEnum):
    """How events of a category are handled."""

    #: An incident in the operator queue at the category's priority (tamper and trouble also
    #: raise a maintenance ticket, as for our own units).
    INCIDENT = "incident"
    #: No incident: a test report is stored as a passed self-test; anything else raises or
    #: recurs on a maintenance ticket for the engineers (shown on the health board).
    SUPERVISION = SUPERVISION_ONLY
    #: Stored on the unit's record only.
    LOG = "log"


ALL_HANDLINGS = (Handling.INCIDENT, Handling.SUPERVISION, Handling.LOG)


@dataclass(frozen=True)
class CategoryRule:
    """A category's label, the priority of the incident it may open, and its handlings."""

    label: str
    priority: Priority | None
    default: Handling
    allowed: tuple[Handling, ...]


def _alarm(label: str) -> CategoryRule:
    return CategoryRule(label, Priority.ACTIVATION, Handling.INCIDENT, ALL_HANDLINGS)


def _record(label: str) -> CategoryRule:
    # Records of what happened (openings, restorals …): nothing to alarm or repair.
    return CategoryRule(label, None, Handling.LOG, (Handling.LOG,))


CATEGORIES: dict[Category, CategoryRule] = {
    Category.PANIC: _alarm("panic, hold-up, duress, emergency"),
    Category.MEDICAL: _alarm("medical alarm"),
    Category.FIRE: _alarm("fire, smoke, heat, sprinkler"),
    Category.INTRUSION: _alarm("burglary (intrusion)"),
    Category.HAZARD: _alarm("gas, water, freeze, temperature and other 24-hour alarms"),
    Category.ALARM: _alarm("other and untyped alarms"),
    Category.TAMPER: CategoryRule("tamper", Priority.TAMPER, Handling.INCIDENT, ALL_HANDLINGS),
    Category.TROUBLE: CategoryRule(
        "trouble: power, battery, communication, equipment",
        Priority.FAULT,
        Handling.INCIDENT,
        ALL_HANDLINGS,
    ),
    Category.SUPERVISORY: CategoryRule(
        "supervisory conditions", Priority.FAULT, Handling.SUPERVISION, ALL_HANDLINGS
    ),
    Category.TEST: CategoryRule(
        "test reports", None, Handling.SUPERVISION, (Handling.SUPERVISION, Handling.LOG)
    ),
    Category.RESTORAL: _record("restorals"),
    Category.OPEN_CLOSE: _record("opening, closing, arming"),
    Category.ACCESS: _record("access control"),
    Category.BYPASS: _record("bypasses and disables"),
    Category.SYSTEM: _record("programming, logs, status and other records"),
    Category.UNMAPPED: CategoryRule(
        "codes not in the published tables", Priority.FAULT, Handling.INCIDENT, ALL_HANDLINGS
    ),
}


class HandlingNotAllowed(ValueError):
    """A handling the category cannot have (a record cannot open an incident)."""


def check_handling(category: Category, handling: Handling) -> None:
    """Raise HandlingNotAllowed unless `category` may be handled as `handling`."""
    rule = CATEGORIES[category]
    if handling not in rule.allowed:
        allowed = ", ".join(h.value for h in rule.allowed)
        raise HandlingNotAllowed(
            f"{category.value} ({rule.label}) can be handled as {allowed}, not {handling.value}"
        )


@dataclass(frozen=True)
class CodeMeaning:
    """What one code means: its category, its text, and whether the tables hold it."""

    category: Category
    text: str
    mapped: bool = True


# The rules, in order: the first whose words the name holds decides.
_RULES: tuple[tuple[Category, frozenset[str]], ...] = tuple(
    (category, frozenset(words.split()))
    for category, words in (
        (Category.RESTORAL, "restoral restore restored"),
        (Category.BYPASS, "bypass unbypass disable"),
        (Category.SYSTEM, "cancel canceled cancelled silenced abort"),
        (Category.TAMPER, "tamper substitution"),
        (
            Category.TROUBLE,
            "trouble fail failed failure missing malfunction fault lost interference jam "
            "overcurrent checksum watchdog error",
        ),
        (Category.ACCESS, "door access card egress"),
        (Category.SYSTEM, "relay"),
        (Category.OPEN_CLOSE, "open opening close closing closed armed arming arm disarm"),
        (Category.TEST, "test tested"),
        (Category.SUPERVISORY, "supervisory supervision"),
        (Category.PANIC, "panic holdup hold duress emergency"),
        (Category.MEDICAL, "medical"),
        (Category.FIRE, "fire smoke heat sprinkler flame combustion"),
        (Category.INTRUSION, "burglary intrusion"),
        (Category.HAZARD, "gas water freeze temperature monoxide"),
        (Category.ALARM, "alarm untyped"),
    )
)
_WORD = re.compile(r"[a-z0-9]+")


def _by_words(text: str) -> Category | None:
    # (a remark in brackets qualifies the name: "Door Left Open (non-alarm, non-trouble)")
    text = re.sub(r"\(.*?\)", "", text.lower()).replace("hold-up", "holdup")
    words = set(_WORD.findall(text))
    if "service" in words and "required" in words:
        return Category.TROUBLE
    for category, keys in _RULES:
        if words & keys:
            return category
    return None


@functools.cache
def sia_code(code: str) -> CodeMeaning:
    """What a SIA DC-03 two-letter code means."""
    found = SIA_DC03.get(code)
    if found is None:
        return CodeMeaning(
            Category.UNMAPPED, f"SIA code {code} (not in the published table)", False
        )
    name = found[0]
    return CodeMeaning(_by_words(name) or Category.SYSTEM, name)


#: Contact ID alarm groups by the first two digits (SIA DC-05's 1xx ranges).
_CID_ALARMS = {
    "10": Category.MEDICAL,
    "11": Category.FIRE,
    "12": Category.PANIC,
    "13": Category.INTRUSION,
    "14": Category.ALARM,
}
#: Categories whose qualifier 3 (restore) and 6 (still present) are records, not new events.
_EVENTS = {category for category, rule in CATEGORIES.items() if rule.priority is not None}


def _contact_id_category(code: str, text: str) -> Category:
    group = text.partition(":")[0].lower()  # "Trouble: AC Loss" -> "trouble"
    words = _by_words(text)
    if words is Category.TAMPER:
        return Category.TAMPER
    hundreds = code[0]
    if hundreds == "1":
        if words is Category.TROUBLE or group == "trouble":
            return Category.TROUBLE
        return _CID_ALARMS.get(code[:2], Category.HAZARD)  # 15x-19x: 24-hour non-burglary
    if hundreds == "2":
        return Category.SUPERVISORY
    if hundreds == "3":
        return Category.SYSTEM if group == "status" else Category.TROUBLE
    if hundreds == "5":
        return Category.SUPERVISORY if group == "supervisory" else Category.BYPASS
    if group == "open/close":
        return Category.OPEN_CLOSE
    if group == "access":
        return Category.ACCESS
    if group == "test":
        return Category.TEST
    if group == "trouble" or words is Category.TROUBLE:
        return Category.TROUBLE
    if group == "alarm":
        return Category.ALARM
    return Category.SYSTEM  # remote access, status, schedules, vendors' records


@functools.cache
def contact_id_code(qualifier: str, code: str) -> CodeMeaning:
    """What a Contact ID event (qualifier 1 new, 3 restore, 6 still present; code) means."""
    found = CONTACT_ID.get(code)
    if found is None:
        meaning = CodeMeaning(
            Category.UNMAPPED, f"Contact ID code {code} (not in the published table)", False
        )
    else:
        meaning = CodeMeaning(_contact_id_category(code, found[0]), found[0])
    if meaning.category in _EVENTS and qualifier == "3":
        return CodeMeaning(Category.RESTORAL, f"{meaning.text} restoral", meaning.mapped)
    if meaning.category in _EVENTS and qualifier == "6":
        return CodeMeaning(Category.SYSTEM, f"{meaning.text} (still present)", meaning.mapped)
    if meaning.category is Category.OPEN_CLOSE and qualifier in "13":
        # For openings and closings the qualifier says which: 1 opening, 3 closing.
        which = "opening" if qualifier == "1" else "closing"
        return CodeMeaning(meaning.category, f"{meaning.text} ({which})", meaning.mapped)
    return meaning
