"""Supervision of units: status derived from the last time a unit was heard, and fault tickets.

Like a healthchecks `Check`, a unit's status is *computed* from `last_seen_at`, its heartbeat
period and grace, never stored as a flag that drifts. What is stored is the last status the
control room was *told* (`supervision_status`, "up" or "down") and the precomputed deadline
`alert_after`, so a sweep finds the next due unit with one indexed query.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from helppoint.domain.errors import InvalidInput, InvalidTransition

#: Grace after a missed heartbeat before a unit is reported down, unless configured per unit.
#: With a 10 s heartbeat, 10 + 8 s plus at most a second each of recording and sweeping keeps
#: the report within the 20 s of EN 50136-1 SP6.
DEFAULT_GRACE = 8


class UnitStatus(enum.StrEnum):
    """How a unit is doing, as derived from when it was last heard."""

    UNKNOWN = "unknown"  # never heard from since it was provisioned
    UP = "up"  # heard within its heartbeat period
    LATE = "late"  # a heartbeat is overdue, but still within the grace
    DOWN = "down"  # silent for longer than period + grace


def derive_status(
    last_seen_at: datetime | None, period: int, grace: int, now: datetime
) -> UnitStatus:
    """The status of a unit last heard at `last_seen_at`, at time `now`."""
    if last_seen_at is None:
        return UnitStatus.UNKNOWN
    silent = now - last_seen_at
    if silent <= timedelta(seconds=period):
        return UnitStatus.UP
    if silent <= timedelta(seconds=period + grace):
        return UnitStatus.LATE
    return UnitStatus.DOWN


def alert_deadline(last_seen_at: datetime, period: int, grace: int) -> float:
    """When a unit last heard at `last_seen_at` is due to be reported down (POSIX seconds)."""
    return last_seen_at.timestamp() + period + grace


@dataclass(eq=False)
class UnitFlip:
    """One change of a unit's reported status (up → down or down → up), for the record."""

    unit_id: str
    at: datetime
    old_status: str
    new_status: str
    last_seen_at: datetime | None = None
    incident_id: int | None = None
    id: int | None = None


def uptime_fraction(
    flips: list[UnitFlip], status_before: str, since: datetime, until: datetime
) -> float:
    """The share of [since, until) a unit was not reported down, from its flips in that span.

    `status_before` is the reported status at `since`; flips must be in time order.
    """
    total = (until - since).total_seconds()
    if total <= 0:
        return 1.0
    down = 0.0
    status, mark = status_before, since
    for flip in flips:
        at = min(max(flip.at, since), until)
        if status == UnitStatus.DOWN.value:
            down += (at - mark).total_seconds()
        status, mark = flip.new_status, at
    if status == UnitStatus.DOWN.value:
        down += (until - mark).total_seconds()
    return max(0.0, 1.0 - down / total)


class TicketState(enum.StrEnum):
    """A maintenance ticket: open → assigned → fixed → verified (verified is the end)."""

    OPEN = "open"
    ASSIGNED = "assigned"
    FIXED = "fixed"
    VERIFIED = "verified"


T = TicketState
TICKET_TRANSITIONS: dict[TicketState, frozenset[TicketState]] = {
    T.OPEN: frozenset({T.ASSIGNED, T.FIXED}),
    T.ASSIGNED: frozenset({T.ASSIGNED, T.FIXED}),
    # A fix that does not hold goes back to the engineer.
    T.FIXED: frozenset({T.VERIFIED, T.ASSIGNED}),
    T.VERIFIED: frozenset(),
}


@dataclass(eq=False)
class MaintenanceTicket:
    """Work for a maintenance engineer: one fault of one unit, until the fix is verified."""

    unit_id: str
    fault: str
    opened_at: datetime
    updated_at: datetime
    detail: str = ""
    state: TicketState = TicketState.OPEN
    occurrences: int = 1
    incident_id: int | None = None
    assigned_to: str | None = None
    fixed_at: datetime | None = None
    fixed_by: str | None = None
    verified_at: datetime | None = None
    verified_by: str | None = None
    id: int | None = None

    @property
    def ref(self) -> str:
        """The reference engineers quote, e.g. MNT-000042."""
        return f"MNT-{self.id:06d}" if self.id is not None else "MNT-(unsaved)"

    @property
    def is_open(self) -> bool:
        """True until the fix is verified."""
        return self.state is not TicketState.VERIFIED

    def _move(self, target: TicketState, at: datetime) -> None:
        if target not in TICKET_TRANSITIONS[self.state]:
            raise InvalidTransition(
                f"{self.ref} is {self.state.value}; it cannot become {target.value}"
            )
        self.state = target
        self.updated_at = at

    def recur(self, at: datetime, detail: str) -> None:
        """The same fault was reported again while the ticket is open."""
        self.occurrences += 1
        self.updated_at = at
        if detail:
            self.detail = detail

    def assign(self, engineer: str, at: datetime) -> None:
        """Give the ticket to an engineer (or to another one)."""
        engineer = engineer.strip()
        if not engineer or len(engineer) > 64:
            raise InvalidInput("an engineer name of 1-64 characters is required")
        self._move(TicketState.ASSIGNED, at)
        self.assigned_to = engineer

    def mark_fixed(self, engineer: str, at: datetime) -> None:
        """The engineer says the fault is fixed."""
        self._move(TicketState.FIXED, at)
        self.fixed_at = at
        self.fixed_by = engineer

    def verify(self, supervisor: str, at: datetime) -> None:
        """Someone other than the fixer confirmed the unit works again."""
        if self.state is TicketState.FIXED and supervisor == self.fixed_by:
            raise InvalidTransition(f"{self.ref} must be verified by someone other than its fixer")
        self._move(TicketState.VERIFIED, at)
        self.verified_at = at
        self.verified_by = supervisor
