""" "How safe do you feel here?": the one-question survey on each unit's page (docs/survey.md).

Pure rules, no I/O: what an answer may hold (a 5-point scale, and optionally a gender and an
age band from fixed lists; never free text, never anything that identifies a person), how a
posted form becomes an answer or is refused, the one-answer-per-unit-per-day cookie, and the
statistics the report shows (counts, means and shares with confidence intervals).

Error messages are gettext message ids (N_): the page translates them into the visitor's
language.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from helppoint.i18n import N_

#: The scale, 1 = very unsafe … 5 = very safe, with the words the page shows.
FEELINGS: dict[int, str] = {
    1: N_("Very unsafe"),
    2: N_("Fairly unsafe"),
    3: N_("Neither safe nor unsafe"),
    4: N_("Fairly safe"),
    5: N_("Very safe"),
}
#: Answers counted as "feeling safe" in the share the report gives.
SAFE = frozenset({4, 5})


class Gender(enum.StrEnum):
    WOMAN = "woman"
    MAN = "man"
    OTHER = "other"
    PREFER_NOT = "prefer_not_to_say"


GENDER_LABELS: dict[Gender, str] = {
    Gender.WOMAN: N_("I am a woman"),
    Gender.MAN: N_("I am a man"),
    Gender.OTHER: N_("Other"),
    Gender.PREFER_NOT: N_("Prefer not to say"),
}

#: Age bands, wide enough that no answer points at a person.
AGE_BANDS: dict[str, str] = {
    "under_18": N_("Under 18"),
    "18_24": N_("18 to 24"),
    "25_34": N_("25 to 34"),
    "35_44": N_("35 to 44"),
    "45_54": N_("45 to 54"),
    "55_64": N_("55 to 64"),
    "65_plus": N_("65 or over"),
    "prefer_not_to_say": N_("Prefer not to say"),
}

#: The form's fields; any other field is refused (there is no free text).
FIELDS = frozenset({"feeling", "gender", "age", "lang", "csrf_token"})
#: The largest form accepted (bytes); a real one is under 100.
MAX_FORM_BYTES = 1024


class SurveyRefused(ValueError):
    """A posted answer that is refused: `problems` are (field, message id) pairs."""

    def __init__(self, problems: Sequence[tuple[str, str]]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class StoredAnswer:
    """One answer as kept: its unit and zone, the hour it was given (UTC), and the answer."""

    unit_id: str
    zone_id: str
    hour: datetime
    feeling: int
    gender: str | None
    age_band: str | None


@dataclass(frozen=True)
class Answer:
    """One answer as stored: nothing else is kept (no address, no cookie, no minute)."""

    feeling: int
    gender: Gender | None = None
    age_band: str | None = None


def parse_form(fields: Mapping[str, Sequence[str]]) -> Answer:
    """The answer in a posted form (each field's values), or SurveyRefused naming every
    problem. Unknown or repeated fields, values off the lists, and a missing scale are refused."""
    problems: list[tuple[str, str]] = []
    for name, values in fields.items():
        if name not in FIELDS:
            problems.append(("form", N_("The form has a field it should not have.")))
            break
        if len(values) != 1:
            problems.append((name, N_("A question was answered more than once.")))
    feeling_text = _one(fields, "feeling")
    feeling = None
    if feeling_text is None or feeling_text == "":
        problems.append(("feeling", N_("Choose how safe you feel here, from 1 to 5.")))
    elif re.fullmatch(r"[1-5]", feeling_text):
        feeling = int(feeling_text)
    else:
        problems.append(("feeling", N_("How safe you feel is a number from 1 to 5.")))
    gender_text = _one(fields, "gender") or ""
    gender = None
    if gender_text:
        try:
            gender = Gender(gender_text)
        except ValueError:
            problems.append(("gender", N_("Choose one of the answers given, or none.")))
    age_text = _one(fields, "age") or ""
    age = None
    if age_text:
        if age_text in AGE_BANDS:
            age = age_text
        else:
            problems.append(("age", N_("Choose one of the age bands given, or none.")))
    if problems or feeling is None:
        raise SurveyRefused(problems)
    return Answer(feeling, gender, age)


def _one(fields: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


# --- One answer per device per unit per day: a cookie holding today's date and unit ids. ---

COOKIE = "hp_survey"
#: At most this many units are remembered in one day's cookie.
COOKIE_MAX_UNITS = 40
_COOKIE_SHAPE = re.compile(r"(\d{4}-\d{2}-\d{2})((?:\.[A-Za-z0-9_-]{1,64}){0,40})")


def answered_today(cookie: str, today: date) -> frozenset[str]:
    """The unit ids the cookie says this browser answered for today; anything malformed, or
    another day's, counts as none."""
    match = _COOKIE_SHAPE.fullmatch(cookie[:4000])
    if not match or match.group(1) != today.isoformat():
        return frozenset()
    return frozenset(part for part in match.group(2).split(".") if part)


def cookie_value(previous: Iterable[str], unit_id: str, today: date) -> str:
    """The cookie after answering for `unit_id` today: the date and the units (no other id)."""
    units = sorted({*previous, unit_id})[-COOKIE_MAX_UNITS:]
    return ".".join([today.isoformat(), *units])


def seconds_left_today(now: datetime) -> int:
    """Seconds until the end of the UTC day: the cookie lasts no longer than that."""
    now = now.astimezone(UTC)
    midnight = datetime.combine(now.date(), datetime.min.time(), UTC).timestamp() + 86400
    return max(1, int(midnight - now.timestamp()))


def hour_of(now: datetime) -> datetime:
    """When an answer was given, as kept: the hour, not the minute."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --- Statistics ---

#: z for a two-sided 95% interval.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Stats:
    """A group of answers: how many, the mean feeling with its 95% interval (normal
    approximation, shown only from 2 answers), and the share feeling safe (4 or 5) with its
    95% Wilson interval."""

    n: int
    mean: float | None
    mean_low: float | None
    mean_high: float | None
    safe_share: float | None
    safe_low: float | None
    safe_high: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "n": self.n,
            "mean": _round(self.mean),
            "mean_low": _round(self.mean_low),
            "mean_high": _round(self.mean_high),
            "safe_share": _round(self.safe_share),
            "safe_low": _round(self.safe_low),
            "safe_high": _round(self.safe_high),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def stats(feelings: Sequence[int]) -> Stats:
    n = len(feelings)
    if n == 0:
        return Stats(0, None, None, None, None, None, None)
    mean = sum(feelings) / n
    low = high = None
    if n >= 2:
        variance = sum((f - mean) ** 2 for f in feelings) / (n - 1)
        half = Z95 * math.sqrt(variance / n)
        low, high = max(1.0, mean - half), min(5.0, mean + half)
    safe = sum(1 for f in feelings if f in SAFE)
    share_low, share_high = wilson(safe, n)
    return Stats(n, mean, low, high, safe / n, share_low, share_high)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (good for small counts and shares near 0
    or 1, unlike the normal approximation)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
