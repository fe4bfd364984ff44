"""Triage: the evidence a press brings before anyone answers (docs/triage.md). Pure Python.

When a unit is pressed it sends a camera still and opens a listen-only audio stream; the
server judges from that audio whether a voice is heard, and how loud the sound is. The
judgement is evidence shown with the alarm, never a decision: it groups, marks and suggests,
and an operator decides.
"""

from __future__ import annotations

import enum


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
