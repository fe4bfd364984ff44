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

from helppoint.domain.classification import Classification
from helppoint.domain.errors import InvalidInput, InvalidTransition


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
