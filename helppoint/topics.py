"""The broker's real-time topics: one name per kind of change, in one place.

The broker (gateway/broker.py) carries `(topic, message)` pairs to the consoles' WebSockets,
to the workers that wait on them and, with several server processes, between processes
(cluster/bus.py). A `Topic` is a `str`, so a name that crossed the cluster bus as text compares
equal to its member. Each member says what its message holds and who builds it.
"""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    """What a broker message is about."""

    #: An incident's view after any change (services/views.incident_view), for every console.
    INCIDENTS = "incidents"
    #: A unit linked or unlinked: {"id", "connected"} (gateway/device_link.py).
    UNITS = "units"
    #: A unit's answer to a command: {"unit_id", "id", "ok", "detail"} (gateway/device_link.py).
    COMMANDS = "commands"
    #: Between server processes only: a command for a unit linked to another process.
    FORWARDED_COMMAND = "unit_command"
    #: Between server processes only: a call frame for a unit linked to another process.
    FORWARDED_FRAME = "unit_frame"
    #: Between server processes only: a unit's call frame for the process that set the call up.
    UNIT_CALL_FRAME = "unit_call_frame"
    #: A marker message that only wakes a subscriber flagged to resync (gateway/broker.py).
    RESYNC = "resync"
    #: Alerts for supervisors: overdue notifications, plan actions (notify/console.py).
    SUPERVISOR_ALERT = "supervisor_alert"
    #: A self-test asked of or answered by a unit: {"unit_id", "run"} (services/selftest.py).
    SELF_TEST = "self_test"
    #: A maintenance ticket's view after a change (services/maintenance.py).
    MAINTENANCE = "maintenance"
    #: A unit's key changed or it was revoked or removed: {"unit_id", "reason"}; every server
    #: process closes the unit's live link (gateway/device_link.py).
    UNIT_KEY = "unit_key"
    #: The camera registry changed: {"camera"}; the cameras job holds the linked streams.
    CAMERAS = "cameras"
    #: A change the police view shows (services/police.police_incident_view).
    POLICE = "police"
    #: A unit's supervision status changed: {"id", "status", ...} (services/supervision.py).
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
    #: A press-time listen ended while operators listened in: {"incident_id", "unit_id",
    #: "listen_id", "reason", "operators"}; their consoles stop showing "listening"
    #: (calls/listen.py, static/listen.js).
    LISTEN_ENDED = "listen_ended"
