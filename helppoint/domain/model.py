"""Entities: Zone, HelpPoint, Incident and its state machine, Operator with a Role."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from helppoint.domain.classification import Classification
from helppoint.domain.errors import AlreadyClaimed, InvalidInput, InvalidTransition
from helppoint.domain.events import Priority
from helppoint.domain.supervision import DEFAULT_GRACE
from helppoint.domain.triage import Voice, check_evidence, check_unchanged, weed_out_reason

#: Default time within which a repeat press of a unit joins its open incident.


@dataclass(eq=False)
class Zone:
    """An area of the scheme (for example a racecourse path) with its own trigger plan."""

    id: str
    name: str
    description: str = ""


@dataclass(eq=False)
class HelpPoint:
    """One street-mounted unit: button, light, camera, speaker and microphone."""

    id: str
    name: str
    zone_id: str
    latitude: float
    longitude: float
    description: str = ""
    key_hash: str = ""
    heartbeat_period: int = 30
    camera_preset: str = "zoom"
    firmware: str = ""
    capabilities: list[str] = field(default_factory=list)
    last_seen_at: datetime | None = None
    active: bool = True
    #: Supervision (domain/supervision.py): grace after a missed heartbeat, the status last
    #: reported ("up"/"down"), and when the unit is due to be reported down (POSIX seconds).
    heartbeat_grace: int = DEFAULT_GRACE
    supervision_status: str = "up"
    alert_after: float | None = None
    #: After a key rotation with an overlap, the old key's hash and until when it still works.
    previous_key_hash: str = ""
    previous_key_until: datetime | None = None
    #: On test for a maintenance window until then (domain/triage.py is_test), and why.
    on_test_until: datetime | None = None
    on_test_reason: str = ""
    #: When an admin removed a unit that has history: kept for the record, gone from maps,
    #: signs, public pages, the console and the health board (domain/units.py).
    retired_at: datetime | None = None
    #: When the unit was first heard from: its supervision (and uptime) starts there.
    first_seen_at: datetime | None = None


class IncidentState(enum.StrEnum):
    """Where an incident is: new → acknowledged → in_call → assessed → escalated → closed."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_CALL = "in_call"
    ASSESSED = "assessed"
    ESCALATED = "escalated"
    CLOSED = "closed"


S = IncidentState
#: Allowed moves. Not every incident passes every state; a closed incident never reopens.
TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    S.NEW: frozenset({S.ACKNOWLEDGED}),
    S.ACKNOWLEDGED: frozenset({S.IN_CALL, S.ASSESSED}),
    S.IN_CALL: frozenset({S.ACKNOWLEDGED, S.ASSESSED}),
    S.ASSESSED: frozenset({S.IN_CALL, S.ASSESSED, S.ESCALATED, S.CLOSED}),
    S.ESCALATED: frozenset({S.ESCALATED, S.CLOSED}),
    S.CLOSED: frozenset(),
}
OPEN_STATES = frozenset(s for s in IncidentState if s is not S.CLOSED)


class IncidentActivity:
    """What an open incident does with repeat events: shared by `Incident` and the plain
    records of incidents that the event writer handles many of at once."""

    id: int | None
    priority: Priority
    state: IncidentState
    last_event_at: datetime
    event_count: int
    on_test: bool

    @property
    def is_open(self) -> bool:
        """True until the incident is closed."""
        return self.state is not IncidentState.CLOSED

    @property
    def ref(self) -> str:
        """The reference operators and the police quote, e.g. INC-000042."""
        return f"INC-{self.id:06d}" if self.id is not None else "INC-(unsaved)"

    def joins(
        self, priority: Priority, at: datetime, window: timedelta, test: bool = False
    ) -> bool:
        """Whether a new event of this priority at `at` joins this incident.

        Repeat presses of one unit within the window of its last event join its open incident
        rather than flooding the queue with new ones; a test never joins an alarm, nor an
        alarm a test (domain/triage.py is_test).
        """
        return (
            self.is_open
            and self.priority == priority
            and at - self.last_event_at <= window
            and self.on_test == test
        )

    def add_event(self, at: datetime) -> None:
        """Record a repeat event (for example another press) on this open incident."""
        self.event_count += 1
        self.last_event_at = max(self.last_event_at, at)


def answer_microseconds(opened_at: datetime, acknowledged_at: datetime) -> int:
    """An alarm's answer time as the reports count it: from received (opened_at) to accepted,
    in whole microseconds (negative if a clock stepped back; domain/report_totals.py)."""
    return (acknowledged_at - opened_at) // timedelta(microseconds=1)


@dataclass(eq=False)
class Incident(IncidentActivity):
    """The operator's unit of work: opened by an alarm, closed with an outcome."""

    unit_id: str
    priority: Priority
    opened_at: datetime
    last_event_at: datetime
    state: IncidentState = IncidentState.NEW
    event_count: int = 1
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    #: Who works on it now: the operator who acknowledged it, until a supervisor moves it.
    held_by: str | None = None
    call_started_at: datetime | None = None
    assessed_at: datetime | None = None
    classification: Classification | None = None
    escalated_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    outcome: str = ""
    #: Press-time evidence (domain/triage.py): the voice judgement of the unit's audio and its
    #: level (0-1); None until judged. Not an operator's change: it never moves the version.
    voice: Voice | None = None
    voice_level: float | None = None
    #: Opened while its unit was on test (domain/triage.py is_test): not an alarm.
    on_test: bool = False
    #: What triage marked it with ("chattering", a rule's mark) and the classification a rule
    #: suggested, and which (domain/triage_patterns.py): a suggestion, never a decision.
    mark: str | None = None
    suggested: Classification | None = None
    suggested_by: str | None = None
    #: The alarm's times, each recorded (docs/sla.md): the unit's own time of the opening
    #: press, and when the writer stored it (the unit's acknowledgement follows that commit);
    #: opened_at is when the server received it, acknowledged_at when an operator accepted it.
    pressed_at: datetime | None = None
    stored_at: datetime | None = None
    #: How long it waited to be accepted (acknowledged_at - opened_at) in whole microseconds,
    #: kept when it is acknowledged so a report over a million alarms groups on a number
    #: (docs/reports.md); None until then.
    answer_microseconds: int | None = None
    id: int | None = None

    def _move(self, target: IncidentState) -> None:
        if target not in TRANSITIONS[self.state]:
            raise InvalidTransition(
                f"{self.ref} is {self.state.value}; it cannot become {target.value}"
            )
        self.state = target

    def acknowledge(self, operator: str, at: datetime) -> None:
        """An operator claims the incident; only one operator ever can."""
        self._move(IncidentState.ACKNOWLEDGED)
        self.acknowledged_at = at
        self.answer_microseconds = answer_microseconds(self.opened_at, at)
        self.acknowledged_by = operator
        self.held_by = operator

    def move_to(self, operator: str) -> str:
        """A supervisor gives the incident to another operator; returns who held it.

        Only an incident someone holds and that is not in a call (the call is in the holder's
        browser: they hang up first) can move. Who acknowledged it, and when, stays on record.
        """
        holder = self.held_by or self.acknowledged_by
        if self.state is S.NEW:
            raise InvalidTransition(
                f"nobody holds {self.ref} yet: an operator takes it, it is not moved"
            )
        if self.state is S.CLOSED:
            raise InvalidTransition(f"{self.ref} is closed")
        if self.state is S.IN_CALL:
            raise InvalidTransition(f"{self.ref} is in a call with {holder}: they hang up first")
        if holder == operator:
            raise InvalidInput(f"{self.ref} is already held by {operator}")
        self.held_by = operator
        assert holder is not None
        return holder

    def start_call(self, at: datetime) -> None:
        """The operator is talking to the unit."""
        self._move(IncidentState.IN_CALL)
        if self.call_started_at is None:
            self.call_started_at = at

    def end_call(self) -> None:
        """The call ended before the incident was classified."""
        if self.state is not IncidentState.IN_CALL:
            raise InvalidTransition(f"{self.ref} is {self.state.value}, not in a call")
        self._move(IncidentState.ACKNOWLEDGED)

    def classify(self, classification: Classification, at: datetime) -> None:
        """The operator's judgement; may be revised until the incident is escalated or closed."""
        self._move(IncidentState.ASSESSED)
        self.classification = classification
        self.assessed_at = at

    def escalate(self, at: datetime) -> None:
        """The trigger plan's actions were started (for example the police were notified)."""
        self._move(IncidentState.ESCALATED)
        if self.escalated_at is None:
            self.escalated_at = at

    def resolve(self, at: datetime, outcome: str) -> bool:
        """Close a technical incident whose cause cleared by itself (an offline unit is back).

        Only before anyone is talking or escalating: returns False, changing nothing, when the
        incident is in a call, escalated or already closed; an operator closes it then.
        """
        if self.state not in (S.NEW, S.ACKNOWLEDGED, S.ASSESSED):
            return False
        self.classification = self.classification or Classification.TECHNICAL
        self.assessed_at = self.assessed_at or at
        self.state = IncidentState.CLOSED
        self.closed_at = at
        self.closed_by = "system"
        self.outcome = outcome
        return True

    def close(self, operator: str, at: datetime, outcome: str = "") -> None:
        """Close with an outcome; a classification is required first."""
        if self.classification is None:
            raise InvalidTransition(f"{self.ref} must be classified before it is closed")
        self._move(IncidentState.CLOSED)
        self.closed_at = at
        self.closed_by = operator
        self.outcome = outcome.strip()

    def weed_out(
        self,
        operator: str,
        reason: Classification,
        at: datetime,
        outcome: str = "",
        *,
        confirmed: bool = False,
        seen_event_count: int | None = None,
    ) -> bool:
        """Acknowledge (if new), classify as a false activation and close, as one change.

        Refused for a reason that is not a false one, for an incident another operator holds,
        one in a call or escalated, one pressed again since the operator saw `seen_event_count`
        presses, and (unless `confirmed`) one whose press-time audio says a person may be
        there (domain/triage.py). Returns True when this also acknowledged the incident.
        """
        weed_out_reason(reason)
        if self.state is S.CLOSED:
            raise InvalidTransition(f"{self.ref} was already closed by {self.closed_by}")
        holder = self.held_by or self.acknowledged_by
        if self.state is not S.NEW and holder != operator:
            raise AlreadyClaimed(
                f"{self.ref} was already acknowledged by {holder or 'someone else'}"
                if holder == self.acknowledged_by
                else f"{self.ref} is held by {holder}"
            )
        if self.state is S.IN_CALL:
            raise InvalidTransition(f"{self.ref} is in a call: hang up before closing it")
        if self.state is S.ESCALATED:
            raise InvalidTransition(
                f"{self.ref} was escalated; it cannot be closed as a false activation"
            )
        check_unchanged(self.ref, self.event_count, seen_event_count)
        check_evidence(self.ref, self.voice, confirmed)
        acknowledged = self.state is S.NEW
        if acknowledged:
            self.acknowledge(operator, at)
        self.classify(reason, at)
        self.close(operator, at, outcome)
        return acknowledged


@dataclass(eq=False)
class IncidentNote:
    """A free-text note an operator adds to an incident."""

    incident_id: int
    author: str
    text: str
    at: datetime
    id: int | None = None

    def __post_init__(self) -> None:
        self.text = self.text.strip()
        if not self.text:
            raise InvalidInput("a note cannot be empty")
        if len(self.text) > 4000:
            raise InvalidInput("a note is limited to 4000 characters")


class Role(enum.StrEnum):
    """What a control-room user may do."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUDITOR = "auditor"
    POLICE = "police"


class Permission(enum.StrEnum):
    """Actions guarded by role."""

    HANDLE_INCIDENTS = "handle_incidents"
    VIEW_HISTORY = "view_history"
    SUPERVISE = "supervise"
    ADMINISTER = "administer"
    READ_AUDIT = "read_audit"
    POLICE_RESPONSE = "police_response"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset({Permission.HANDLE_INCIDENTS, Permission.VIEW_HISTORY}),
    Role.SUPERVISOR: frozenset(
        {Permission.HANDLE_INCIDENTS, Permission.VIEW_HISTORY, Permission.SUPERVISE}
    ),
    Role.ADMIN: frozenset(Permission),
    Role.AUDITOR: frozenset({Permission.READ_AUDIT}),
    Role.POLICE: frozenset({Permission.POLICE_RESPONSE}),
}


@dataclass(eq=False)
class Operator:
    """A control-room user with a role."""

    username: str
    display_name: str
    role: Role
    password_hash: str
    created_at: datetime
    active: bool = True
    id: int | None = None
    #: TOTP two-factor (services/totp.py): the secret is set at enrolment and used once
    #: enabled (after the operator confirmed a code).
    two_factor_secret: str = ""
    two_factor_enabled: bool = False
    two_factor_last_step: int = 0

    def can(self, permission: Permission) -> bool:
        """Whether this user's role allows the permission."""
        return self.active and permission in ROLE_PERMISSIONS[self.role]


@dataclass(eq=False)
class AuditEntry:
    """One thing a user or the system did, for the record."""

    at: datetime
    actor: str
    action: str
    incident_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    address: str | None = None
    id: int | None = None
    #: Position in the hash chain and the chain hashes (see domain/audit.py), set on commit.
    seq: int | None = None
    prev_hash: str = ""
    hash: str = ""


@dataclass(eq=False)
class LoginSession:
    """A signed-in browser: the cookie holds a random token, the store only its hash."""

    token_hash: str
    operator_id: int
    created_at: datetime
    expires_at: datetime
    address: str | None = None
    #: When the session was last used, and the idle time (seconds) after which it ends; 0 = none.
    last_seen_at: datetime | None = None
    idle_timeout: int = 0

    def valid_at(self, at: datetime) -> bool:
        """Whether the session is still usable: before its absolute end and not idle too long."""
        if at >= self.expires_at:
            return False
        if self.idle_timeout and self.last_seen_at is not None:
            return at < self.last_seen_at + timedelta(seconds=self.idle_timeout)
        return True
