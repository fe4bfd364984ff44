"""The broker's real-time topics and the shape of each topic's message, in one place.

The broker (gateway/broker.py) carries `(topic, message)` pairs to the consoles' WebSockets,
to the workers that wait on them and, with several server processes, between processes
(cluster/bus.py). A `Topic` is a `str`, so a name that crossed the cluster bus as text compares
equal to its member. Each topic's message is a JSON object whose shape is a `TypedDict` below;
`Publish` pairs each topic with its shape, and every way to publish (`uow.publish_after_commit`,
`Broker.publish`, `ClusterBus.forward`) has that type, so mypy checks a message against its
topic where it is built. On its way (the broker's queues, the cluster bus, the event writer's
pipe) a message is a plain dict (`Message`), passed on unchanged: the consoles' JavaScript and
the other processes read the same JSON. tests/unit/test_topics.py checks that every topic has a
shape and that the real builders make it.

Standard library only: everything above may import it (services/ included).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal, NotRequired, Protocol, TypedDict, overload


class Topic(StrEnum):
    """What a broker message is about; its message's shape is in `Publish`."""

    #: An incident's view after any change (services/views.incident_view), for every console.
    INCIDENTS = "incidents"
    #: A unit linked or unlinked (gateway/device_link.py, sip/gateway.py).
    UNITS = "units"
    #: A unit's answer to a command (gateway/device_link.py).
    COMMANDS = "commands"
    #: Between server processes only: a command for a unit linked to another process.
    FORWARDED_COMMAND = "unit_command"
    #: Between server processes only: a call frame for a unit linked to another process.
    FORWARDED_FRAME = "unit_frame"
    #: Between server processes only: a unit's call frame for the process that set the call up.
    UNIT_CALL_FRAME = "unit_call_frame"
    #: A marker message that only wakes a subscriber flagged to resync (gateway/broker.py).
    RESYNC = "resync"
    #: Alerts for supervisors: plan actions (notify/console.py), overdue or failed notifications
    #: (services/notifications.py), refused SIP traffic (services/sip_units.py).
    SUPERVISOR_ALERT = "supervisor_alert"
    #: A self-test asked of or answered by a unit (services/selftest.py).
    SELF_TEST = "self_test"
    #: A maintenance ticket's view after a change (services/maintenance.ticket_view).
    MAINTENANCE = "maintenance"
    #: A unit's key changed or it was revoked or removed; every server process closes the
    #: unit's live link (gateway/device_link.py).
    UNIT_KEY = "unit_key"
    #: The camera registry changed; the cameras job holds the linked streams.
    CAMERAS = "cameras"
    #: A change the police view shows (services/police.police_incident_view).
    POLICE = "police"
    #: A unit's supervision status changed (services/supervision.py).
    SUPERVISION = "supervision"
    #: An incident closed: its unit's light and camera go back to rest (gateway/unit_reset.py).
    UNIT_RESET = "unit_reset"
    #: An unacknowledged-alarm alert: every console re-alerts, supervisors are told (services/sla).
    SLA_ALERT = "sla_alert"
    #: A notification's status changed (for the incident panel); also wakes the outbox worker
    #: when new notifications are committed (services/views.notification_view).
    NOTIFICATIONS = "notification"
    #: A call's state changed, pushed to consoles as {"type": "call", "data": ...} (calls/hub.py).
    CALLS = "call"
    #: A press-time listen ended while operators listened in; their consoles stop showing
    #: "listening" (calls/listen.py, static/listen.js).
    LISTEN_ENDED = "listen_ended"


#: A message of any topic on its way: the broker's queues, the cluster bus, the event writer's
#: pipe. Checked against its topic's shape where it was built (`Publish`), then passed on as is.
Message = dict[str, Any]

# Times are ISO 8601 strings with a UTC offset (services/views.iso); None: not yet.


class SuggestionMessage(TypedDict):
    """A classification a triage rule suggested (docs/triage.md)."""

    classification: str
    label: str
    rule: str | None


class IncidentMessage(TypedDict):
    """An incident's view (services/views.incident_view; the API's `IncidentView`)."""

    #: None only for an incident not stored yet (never published); so for the ids below.
    id: int | None
    ref: str
    unit_id: str
    unit_name: str
    zone_id: str | None
    latitude: float | None
    longitude: float | None
    priority: int
    kind: str
    state: str
    opened_at: str | None
    last_event_at: str | None
    event_count: int
    acknowledged_at: str | None
    pressed_at: str | None
    stored_at: str | None
    acknowledged_by: str | None
    held_by: str | None
    call_started_at: str | None
    assessed_at: str | None
    classification: str | None
    classification_label: str | None
    escalated_at: str | None
    closed_at: str | None
    closed_by: str | None
    outcome: str
    voice: str | None
    voice_level: float | None
    on_test: bool
    mark: str | None
    suggestion: SuggestionMessage | None


class UnitLinkMessage(TypedDict):
    """A unit's device link (or SIP registration) came up or went down."""

    id: str
    connected: bool


class CommandResultMessage(TypedDict):
    """A unit's answer to command `id` (or the server's, when the unit is not linked)."""

    unit_id: str
    id: str
    ok: bool
    detail: str


class ForwardedCommandMessage(TypedDict):
    """A command for a unit linked to process `to`."""

    to: str
    unit_id: str
    id: str
    command: str
    args: dict[str, Any]


class ForwardedFrameMessage(TypedDict):
    """A call frame for a unit linked to process `to`."""

    to: str
    unit_id: str
    frame: dict[str, Any]


class UnitCallFrameMessage(TypedDict):
    """A unit's call frame (an answer, an end), for the process that set the call up."""

    unit_id: str
    frame: dict[str, Any]


class ResyncMessage(TypedDict):
    """Empty: the topic says it all."""


class PlanActionAlert(TypedDict):
    """A response plan's action for the supervisors' consoles (notify/console.py)."""

    kind: Literal["plan_action"]
    incident_id: int
    ref: str
    message: str
    idempotency_key: str


class NotificationMessage(TypedDict):
    """A notification with its delivery status (services/views.notification_view)."""

    id: int | None
    incident_id: int
    kind: str
    kind_label: str
    channel: str
    target: str
    message: str
    idempotency_key: str
    status: str
    attempts: int
    last_error: str
    created_at: str | None
    next_attempt_at: str | None
    deadline_at: str | None
    delivered_at: str | None
    overdue: bool


class DeliveryAlert(TypedDict):
    """A notification failed or was not delivered by its deadline (services/notifications.py)."""

    kind: Literal["delivery_failed", "notification_overdue"]
    incident_id: int
    message: str
    notification: NotificationMessage


class SipRefusalAlert(TypedDict):
    """The SIP server refused traffic: `kind` is "sip_" and its event (services/sip_units.py)."""

    kind: str
    title: str
    message: str
    address: str | None


SupervisorAlert = PlanActionAlert | DeliveryAlert | SipRefusalAlert


class SelfTestMessage(TypedDict):
    """Self-test `run` (its command id) of a unit was asked for or answered."""

    unit_id: str
    run: str


class TicketMessage(TypedDict):
    """A maintenance ticket's view (services/maintenance.ticket_view; the API's `TicketView`)."""

    id: int | None
    ref: str
    unit_id: str
    fault: str
    detail: str
    state: str
    occurrences: int
    incident_id: int | None
    opened_at: str | None
    updated_at: str | None
    assigned_to: str | None
    fixed_at: str | None
    fixed_by: str | None
    verified_at: str | None
    verified_by: str | None


class UnitKeyMessage(TypedDict):
    """A unit's key changed, or the unit was revoked or removed: why, for the log."""

    unit_id: str
    reason: str


class CamerasMessage(TypedDict):
    """Camera `camera` was added, changed, removed, linked or unlinked."""

    camera: str


class PoliceResponseMessage(TypedDict):
    """services/police.police_response_view."""

    called_at: str | None
    called_by: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    cad_reference: str
    on_scene_at: str | None


class NoteMessage(TypedDict):
    """services/views.note_view."""

    id: int | None
    author: str
    text: str
    at: str | None


class PoliceIncidentMessage(IncidentMessage):
    """What the police see of an escalated incident (services/police.police_incident_view)."""

    unit_description: str
    police_response: PoliceResponseMessage | None
    notes: list[NoteMessage]


class SupervisionMessage(TypedDict):
    """Unit `id`'s supervision status became `status` ("up" or "down")."""

    id: str
    status: str


class UnitResetMessage(TypedDict):
    """Incident `incident_id` closed: unit `unit_id`'s light and camera go back to rest."""

    unit_id: str
    incident_id: int


class SlaAlertMessage(TypedDict):
    """An alarm waited longer than the threshold without acknowledgement (services/sla.py)."""

    incident: IncidentMessage
    waited_seconds: int
    message: str


class CallMessage(TypedDict):
    """A call's state (calls/hub.py): "connected", then "ended" with its `reason`."""

    incident_id: int
    unit_id: str
    call_id: int | None
    state: str
    talk: bool
    video: bool
    detail: str
    reason: NotRequired[str]


class ListenEndedMessage(TypedDict):
    """A press-time listen ended: the operators who were listening in, and why."""

    incident_id: int
    unit_id: str
    listen_id: str
    reason: str
    operators: list[str]


class Publish(Protocol):
    """Publish `message` on `topic`; the message must have the topic's shape.

    One overload per topic: this is where each topic's shape is declared.
    """

    @overload
    def __call__(self, topic: Literal[Topic.INCIDENTS], message: IncidentMessage, /) -> None: ...
    @overload
    def __call__(self, topic: Literal[Topic.UNITS], message: UnitLinkMessage, /) -> None: ...
    @overload
    def __call__(
        self, topic: Literal[Topic.COMMANDS], message: CommandResultMessage, /
    ) -> None: ...
    @overload
    def __call__(
        self, topic: Literal[Topic.FORWARDED_COMMAND], message: ForwardedCommandMessage, /
    ) -> None: ...
    @overload
    def __call__(
        self, topic: Literal[Topic.FORWARDED_FRAME], message: ForwardedFrameMessage, /
    ) -> None: ...
    @overload
    def __call__(
        self, topic: Literal[Topic.UNIT_CALL_FRAME], message: UnitCallFrameMessage, /
    ) -> None: ...
    @overload
    def __call__(self, topic: Literal[Topic.RESYNC], message: ResyncMessage, /) -> None: ...
    @overload
    def __call__(
        self, topic: Literal[Topic.SUPERVISOR_ALERT], message: SupervisorAlert, /
    ) -> None: ...
    @overload
    def __call__(self, topic: Literal[Topic.SELF_TEST], message: SelfTestMessage, /) -> None: ...
    @overload
    def __call__(self, topic: Literal[Topic.MAINTENANCE], message: TicketMessage, /) -> None: ...
    @overload
    def __call__(self, topic: Literal[Topic.UNIT_KEY], message: UnitKeyMessage, /) -> None: ...
    @overload
    def __call__(self, topic: Literal[Topic.CAMERAS], message: CamerasMessage, /) -> None: ...
    @overload
    def __call__(self, topic: Literal[Topic.POLICE], message: PoliceIncidentMessage, /) -> None: ...
    @overload
    def __call__(
        self, topic: Literal[Topic.SUPERVISION], message: SupervisionMessage, /
    ) -> None: ...
    @overload
    def __call__(self, topic: Literal[Topic.UNIT_RESET], message: UnitResetMessage, /) -> None: ...
    @overload
    def __call__(self, topic: Literal[Topic.SLA_ALERT], message: SlaAlertMessage, /) -> None: ...
    @overload
    def __call__(
        self, topic: Literal[Topic.NOTIFICATIONS], message: NotificationMessage, /
    ) -> None: ...
    @overload
    def __call__(self, topic: Literal[Topic.CALLS], message: CallMessage, /) -> None: ...
    @overload
    def __call__(
        self, topic: Literal[Topic.LISTEN_ENDED], message: ListenEndedMessage, /
    ) -> None: ...
    def __call__(self, topic: Topic, message: Mapping[str, object], /) -> None:
        """The overloads are the type; each way to publish implements this."""
