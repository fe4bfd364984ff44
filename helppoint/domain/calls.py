"""Calls and evidence recordings: plain domain objects with their rules (no I/O)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from helppoint.domain.errors import InvalidInput, InvalidTransition

#: Default retention of call recordings: 31 days, as is common for public-space CCTV.


class EndReason(enum.StrEnum):
    """Why a call ended."""

    HANGUP = "hangup"  # the operator hung up
    REPLACED = "replaced"  # the operator re-established the call
    UNIT_LOST = "unit_lost"  # the unit's device link or media path went away
    OPERATOR_LOST = "operator_lost"  # the operator's browser went away
    UNIT_ENDED = "unit_ended"  # the unit ended the call
    INCIDENT_CLOSED = "incident_closed"
    FAILED = "failed"  # the call could not be set up
    SERVER_STOPPED = "server_stopped"
    #: Press-time listening (docs/triage.md): its time was up, or an operator answered.
    LISTENED = "listened"
    ANSWERED = "answered"


class CallKind(enum.StrEnum):
    """A call with an operator, or the server listening to a unit that was just pressed."""

    CALL = "call"
    PRESS = "press"  # press-time audio: listen-only, unit to server (docs/triage.md)


@dataclass(eq=False)
class Call:
    """One call between a unit and an operator about an incident."""

    incident_id: int
    unit_id: str
    operator: str
    started_at: datetime
    #: Whether the operator talks (their microphone reached the server) or only listens.
    talk: bool = True
    #: Whether video from the unit's camera reached the server.
    video: bool = False
    #: What still works and what does not, in words for the operator (e.g. "no camera").
    detail: str = ""
    connected_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str = ""
    #: The server process relaying its media (helppoint/cluster); the call dies with it.
    server: str = ""
    #: CallKind: "press" is the unit's press-time audio, which the server listened to.
    kind: str = CallKind.CALL.value
    id: int | None = None

    @property
    def active(self) -> bool:
        """True until the call has ended."""
        return self.ended_at is None

    def connected(self, at: datetime) -> None:
        """Media flows in both directions."""
        if self.connected_at is None:
            self.connected_at = at

    def end(self, reason: EndReason, at: datetime) -> None:
        """Record the end of the call (once)."""
        if self.ended_at is not None:
            raise InvalidTransition(f"call {self.id} already ended ({self.end_reason})")
        self.ended_at = max(at, self.started_at)
        self.end_reason = reason.value

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, once ended."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class RetainedEvidence:
    """The rules of media kept as evidence (a call's recording, a camera's clip): kept until
    its retention ends unless a supervisor holds it; deleted only by the retention sweep."""

    #: What the thing is called in messages ("recording", "clip").
    noun = "recording"
    id: int | None
    retain_until: datetime | None
    held: bool
    held_by: str | None
    held_at: datetime | None
    hold_reason: str
    purged_at: datetime | None

    @property
    def available(self) -> bool:
        """Whether the file is still kept (not purged)."""
        return self.purged_at is None

    def purgeable(self, now: datetime) -> bool:
        """Whether the retention sweep may delete it now: past retention and not on hold."""
        return (
            self.available
            and not self.held
            and self.retain_until is not None
            and self.retain_until <= now
        )

    def hold(self, by: str, reason: str, at: datetime) -> None:
        """Place an evidence hold: the file is kept until the hold is released."""
        reason = reason.strip()
        if not reason:
            raise InvalidInput("an evidence hold needs a reason (e.g. a police request number)")
        if len(reason) > 500:
            raise InvalidInput("the hold reason is limited to 500 characters")
        if not self.available:
            raise InvalidTransition(
                f"{self.noun} {self.id} was already deleted at the end of retention"
            )
        if self.held:
            raise InvalidTransition(f"{self.noun} {self.id} is already on hold (by {self.held_by})")
        self.held = True
        self.held_by = by
        self.held_at = at
        self.hold_reason = reason

    def release(self) -> None:
        """Release the evidence hold; normal retention applies again."""
        if not self.held:
            raise InvalidTransition(f"{self.noun} {self.id} is not on hold")
        self.held = False
        self.held_by = None
        self.held_at = None
        self.hold_reason = ""

    def purged(self, at: datetime) -> None:
        """The file was deleted by the retention sweep."""
        if self.held:
            raise InvalidTransition(f"{self.noun} {self.id} is on hold and must not be deleted")
        self.purged_at = at


@dataclass(eq=False)
class Recording(RetainedEvidence):
    """The audio and video of one call, kept as evidence until its retention ends."""

    call_id: int
    incident_id: int
    #: File name inside the recordings directory.
    path: str
    started_at: datetime
    ended_at: datetime
    size_bytes: int
    sha256: str
    retain_until: datetime
    duration: float = 0.0
    media_type: str = "video/webm"
    held: bool = False
    held_by: str | None = None
    held_at: datetime | None = None
    hold_reason: str = ""
    #: When the retention sweep deleted the file (the row stays, for the record).
    purged_at: datetime | None = None
    id: int | None = None


def retain_until(ended_at: datetime, retention: timedelta) -> datetime:
    """When a recording that ended at ``ended_at`` may be deleted."""
    if retention <= timedelta(0):
        raise InvalidInput("the retention period must be positive")
    return ended_at + retention
