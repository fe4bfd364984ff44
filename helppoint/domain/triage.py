"""Triage: the evidence a press brings before anyone answers, and the rules for weeding out a
false activation with it (docs/triage.md). Pure Python.

When a unit is pressed it sends a camera still and opens a listen-only audio stream; the
server judges from that audio whether a voice is heard, and how loud the sound is. The
judgement is evidence shown with the alarm, never a decision: it groups, marks and suggests,
and an operator decides. An incident whose evidence says a person may be there is never
weeded out without the operator's explicit confirmation.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from helppoint.domain.classification import Classification
from helppoint.domain.errors import InvalidInput, InvalidTransition
from helppoint.domain.events import Priority


class Voice(enum.StrEnum):
    """What the press-time audio says about the place: a voice, quiet, or other sound."""

    VOICE = "voice"  # speech heard: a person may be there and need help
    SILENT = "silent"  # nothing above the background
    NOISY = "noisy"  # sound, but not speech (traffic, wind, music)

    @property
    def label(self) -> str:
        """Words for the console."""
        return _LABELS[self]


_LABELS = {
    Voice.VOICE: "voice heard",
    Voice.SILENT: "silent",
    Voice.NOISY: "noisy",
}

#: The false-activation reasons an operator can weed out with, in the console's order: the
#: first is the one-key default.
WEED_OUT_REASONS: tuple[Classification, ...] = (
    Classification.FALSE_ACCIDENTAL,
    Classification.FALSE_MALICIOUS,
    Classification.FALSE_TEST,
)


class ConfirmationNeeded(InvalidTransition):
    """The evidence says a person may be there: the operator must confirm the weed-out."""


class ChangedSinceSeen(InvalidTransition):
    """The incident was pressed again after the operator looked at it."""


def person_may_be_there(voice: str | None) -> bool:
    """Whether press-time audio says someone may be at the unit.

    A voice heard says so; so does noise, because speech drowned in traffic, wind or a
    crowd is exactly what a voice detector can miss. Silence, or no judgement yet, does not.
    """
    return voice in (Voice.VOICE, Voice.NOISY)


def weed_out_reason(classification: Classification) -> Classification:
    """The classification, if it is a false-activation reason; InvalidInput otherwise."""
    if classification not in WEED_OUT_REASONS:
        reasons = ", ".join(c.value for c in WEED_OUT_REASONS)
        raise InvalidInput(
            f"{classification.value} is not a false activation; weeding out takes one of: {reasons}"
        )
    return classification


def check_evidence(ref: str, voice: str | None, confirmed: bool) -> None:
    """Refuse to weed out an incident where a person may be there, unless confirmed."""
    if person_may_be_there(voice) and not confirmed:
        heard = "a voice was heard" if voice == Voice.VOICE else "its audio is noisy"
        raise ConfirmationNeeded(
            f"{ref}: {heard} at the unit, so a person may be there; look and listen, then "
            "confirm to close it as a false activation"
        )


def check_unchanged(ref: str, event_count: int, seen_event_count: int | None) -> None:
    """Refuse when the unit was pressed again after the operator saw `seen_event_count`."""
    if seen_event_count is not None and event_count > seen_event_count:
        raise ChangedSinceSeen(
            f"{ref} was pressed again since you looked ({event_count} presses now); "
            "look again before closing it"
        )


# ---------- judging press-time audio ----------

#: Audio is judged in frames of 20 ms, over the last WINDOW_FRAMES of them (1.5 s).
FRAME_SECONDS = 0.020
WINDOW_FRAMES = 75
#: A judgement needs at least this many frames (0.5 s) of audio.
MIN_FRAMES = 25
#: Below this level (dBFS, the loud end of the window) the place is silent.
SILENCE_DB = -50.0
#: Frame levels below this count as this (digital silence would otherwise weigh without end).
FLOOR_DB = -70.0
#: Voice: at least this share of the window's frames hold speech (the VAD's judgement) ...
VOICE_SHARE = 0.3
#: ... and the level swings by at least this much (dB, loud end to quiet end of the window).
#: Speech comes in syllables with pauses between; traffic, wind and hum are steady, and the
#: VAD alone takes steady noise in the voice band for speech. 12 dB still finds speech 10 dB
#: above steady noise; erring towards "voice" errs on the side of the caller (docs/triage.md).
VOICE_SWING_DB = 12.0
#: The level shown, 0-1: LEVEL_FLOOR_DB (and below) is 0, 0 dBFS is 1.
LEVEL_FLOOR_DB = -60.0


@dataclass(frozen=True)
class Judgement:
    """What the audio says so far: voice, silent or noisy, and how loud (0-1)."""

    voice: Voice
    level: float


class VoiceJudge:
    """Judges a stream of audio frames from what a voice detector and a level meter said.

    Once a voice has been heard the judgement stays "voice" (the level still follows the
    sound): a person who spoke and then fell silent is still a person who may need help.
    """

    def __init__(self) -> None:
        self._speech: deque[bool] = deque(maxlen=WINDOW_FRAMES)
        self._levels: deque[float] = deque(maxlen=WINDOW_FRAMES)
        self.frames = 0
        self.voice_heard = False

    def add(self, speech: bool, level_db: float) -> None:
        """One 20 ms frame: whether the voice detector heard speech, and its level in dBFS."""
        self._speech.append(speech)
        self._levels.append(max(level_db, FLOOR_DB))
        self.frames += 1

    def judgement(self) -> Judgement | None:
        """The judgement of the audio so far; None before MIN_FRAMES frames."""
        if len(self._levels) < MIN_FRAMES:
            return None
        ordered = sorted(self._levels)
        loud = _percentile(ordered, 0.9)
        quiet = _percentile(ordered, 0.1)
        level = round(min(1.0, max(0.0, (loud - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB)), 2)
        share = sum(self._speech) / len(self._speech)
        if loud >= SILENCE_DB and share >= VOICE_SHARE and loud - quiet >= VOICE_SWING_DB:
            self.voice_heard = True
        if self.voice_heard:
            return Judgement(Voice.VOICE, level)
        if loud < SILENCE_DB:
            return Judgement(Voice.SILENT, level)
        return Judgement(Voice.NOISY, level)


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


#: A new level is worth telling the consoles when it moved by at least this much.
LEVEL_STEP = 0.1


def worth_telling(previous: Judgement | None, current: Judgement) -> bool:
    """Whether a judgement changed enough to store and show: another voice, or the level
    moved by LEVEL_STEP or more."""
    if previous is None:
        return True
    return current.voice is not previous.voice or abs(current.level - previous.level) >= LEVEL_STEP


# ---------- units on test ----------

#: Longest maintenance window a unit can be put on test for.
LONGEST_TEST = timedelta(hours=24)


def is_test(on_test_until: datetime | None, at: datetime) -> bool:
    """Whether what a unit reports at `at` is a test: it is on test until `on_test_until`.

    The one rule of units on test: everything they report in their maintenance window (a
    press, a tamper, a fault) opens or joins an incident marked as a test, which does not
    sound as an alarm and is left out of answer times and reports. It is still stored and
    shown, and an operator still closes it: nothing is lost, nothing closes by itself.
    """
    return on_test_until is not None and at < on_test_until


def test_window_end(now: datetime, minutes: int) -> datetime:
    """The end of a maintenance window of `minutes` from now (1 minute to 24 hours)."""
    if not 1 <= minutes <= LONGEST_TEST.total_seconds() // 60:
        raise InvalidInput("a unit is put on test for 1 minute to 24 hours")
    return now + timedelta(minutes=minutes)


#: Press-time sound in the order its alarms are taken: a voice first, then noise, then the rest.
_TAKE_BY_VOICE = {Voice.VOICE: 0, Voice.NOISY: 1}


class Takeable(Protocol):
    """What the take order reads of an incident."""

    id: int | None
    priority: Priority
    opened_at: datetime
    voice: Voice | None
    on_test: bool


def take_order(incident: Takeable) -> tuple[bool, int, int, datetime, int]:
    """The order in which an operator's "take the next alarm" gets unclaimed incidents.

    Alarms before units on test; then by priority (alarms before tamper before faults);
    within a priority, a voice heard at the unit first, then noise, then the rest; then the
    oldest. The storm view shows its tiles in the same order.
    """
    return (
        incident.on_test,
        int(incident.priority),
        _TAKE_BY_VOICE.get(incident.voice, 2) if incident.voice is not None else 2,
        incident.opened_at,
        incident.id or 0,
    )
