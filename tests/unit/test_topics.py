"""Every real-time topic has a declared message shape, and the real builders make it.

The shapes are the TypedDicts of helppoint/topics.py, paired with their topics by the overloads
of `topics.Publish` (which mypy checks every publish against). These tests check the pairing is
complete and that messages built by the product's own code have the declared keys and value
types; tests/services/test_topic_messages.py does the same for what the use cases publish.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, get_type_hints, is_typeddict

import pytest
from pydantic import BaseModel

from helppoint.calls.hub import CallHub
from helppoint.domain.model import HelpPoint, Incident, IncidentNote
from helppoint.domain.notifications import Notification
from helppoint.domain.plans import ActionKind, Channel
from helppoint.domain.police import PoliceResponse
from helppoint.domain.supervision import MaintenanceTicket
from helppoint.gateway.broker import Broker
from helppoint.gateway.device_link import DeviceLinkHub
from helppoint.gateway.frames import CommandResult
from helppoint.notify.base import IncidentFacts
from helppoint.notify.console import ConsoleNotifier
from helppoint.services import notifications, views
from helppoint.services.maintenance import ticket_view
from helppoint.services.police import police_incident_view
from helppoint.topics import (
    IncidentMessage,
    NoteMessage,
    NotificationMessage,
    PoliceIncidentMessage,
    PoliceResponseMessage,
    SuggestionMessage,
    TicketMessage,
    Topic,
)
from helppoint.web.health import TicketView
from helppoint.web.police import PoliceIncidentView, PoliceResponseView
from tests.topic_shapes import check, declared_shapes, mismatches
from tests.unit.incidents import AT, FULL, UNIT, incident

NOTIFICATION = Notification(
    42,
    ActionKind.POLICE,
    Channel.EMAIL,
    "police@example.org",
    "help",
    "42-police",
    AT,
    AT + timedelta(seconds=30),
    deadline_at=AT + timedelta(minutes=1),
    id=5,
)


def test_every_topic_has_one_declared_shape() -> None:
    shapes = declared_shapes()
    assert set(shapes) == set(Topic)
    for topic, alternatives in shapes.items():
        for shape in alternatives:
            assert is_typeddict(shape), f"{topic}: {shape} is not a TypedDict"
            get_type_hints(shape)  # every name in it resolves


@pytest.mark.parametrize(
    ("shape", "model", "not_in_message"),
    [
        (IncidentMessage, views.IncidentView, set()),
        (SuggestionMessage, views.Suggestion, set()),
        (NotificationMessage, views.NotificationView, set()),
        (NoteMessage, views.NoteView, set()),
        (TicketMessage, TicketView, set()),
        (PoliceResponseMessage, PoliceResponseView, set()),
        # The police feed adds the latest still to what it is published (web/police.py).
        (PoliceIncidentMessage, PoliceIncidentView, {"latest_still"}),
    ],
)
def test_a_view_message_has_the_api_views_fields(
    shape: Any, model: type[BaseModel], not_in_message: set[str]
) -> None:
    """A view sent as a message and as an API answer: the same keys in both."""
    assert set(get_type_hints(shape)) == set(model.model_fields) - not_in_message


def test_the_check_finds_a_missing_an_undeclared_and_a_mistyped_key() -> None:
    message = {"unit_id": "HP-01", "reason": 3, "extra": True}
    assert mismatches({"unit_id": "HP-01"}, declared_shapes()[Topic.UNIT_KEY][0]) == [
        "message lacks 'reason'"
    ]
    assert mismatches(message, declared_shapes()[Topic.UNIT_KEY][0]) == [
        "message has undeclared 'extra'",
        "message['reason'] is 3, not str",
    ]
    with pytest.raises(AssertionError):
        check(Topic.UNIT_KEY, message)


@pytest.mark.parametrize("case", [incident(), FULL], ids=["new", "full"])
@pytest.mark.parametrize("unit", [UNIT, None], ids=["unit", "no unit"])
def test_an_incident_view_is_an_incidents_message(case: Incident, unit: HelpPoint | None) -> None:
    check(Topic.INCIDENTS, views.incident_view(case, unit))


def test_a_notification_view_and_its_alerts_are_messages() -> None:
    view = views.notification_view(NOTIFICATION)
    check(Topic.NOTIFICATIONS, view)
    check(Topic.SUPERVISOR_ALERT, notifications._alert("delivery_failed", view))
    check(Topic.SUPERVISOR_ALERT, notifications._alert("notification_overdue", view))


def test_a_ticket_view_is_a_maintenance_message() -> None:
    ticket = MaintenanceTicket("HP-01", "offline", AT, AT, "never heard", incident_id=42, id=7)
    check(Topic.MAINTENANCE, ticket_view(ticket))
    ticket.mark_fixed("system", AT)
    check(Topic.MAINTENANCE, ticket_view(ticket))


@pytest.mark.parametrize("called", [True, False])
def test_what_the_police_see_is_a_police_message(called: bool) -> None:
    notes = SimpleNamespace(for_incident=lambda _: [IncidentNote(42, "alice", "on my way", AT, 1)])
    response = PoliceResponse(42, AT, "olive") if called else None
    uow: Any = SimpleNamespace(notes=notes)
    view = police_incident_view(uow, FULL, UNIT, response)
    check(Topic.POLICE, view)


def test_a_plan_action_for_the_console_is_a_supervisor_alert() -> None:
    sent: list[tuple[str, Any]] = []
    notifier = ConsoleNotifier(lambda topic, message: sent.append((topic, message)))
    facts = IncidentFacts(
        *("INC-000042", 42, "HP-01", "Market Square", "centre", 51.5, -0.1),
        *("imminent_threat", "Imminent threat", AT, "alice", "NP-1", "escalated"),
    )
    asyncio.run(notifier.notify(NOTIFICATION, facts))
    [(topic, message)] = sent
    check(topic, message)


class Captured(Broker):
    """A broker that keeps what is published."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, Any]] = []

    def publish_local(self, topic: str, message: Any) -> None:
        self.sent.append((topic, message))


def test_a_calls_state_is_a_call_message() -> None:
    broker = Captured()
    hub: Any = SimpleNamespace(_broker=broker)
    active: Any = SimpleNamespace(
        incident_id=42, unit_id="HP-01", call_id=3, talk=True, video=False, detail=""
    )
    CallHub._publish(hub, active, "connected")
    CallHub._publish(hub, active, "ended", reason="operator")
    assert [m.get("reason") for _, m in broker.sent] == [None, "operator"]
    for topic, message in broker.sent:
        check(topic, message)


def test_a_units_answer_to_a_command_is_a_commands_message() -> None:
    broker = Captured()
    unused: Any = None  # its unit of work and ingest queue: an answer needs neither
    hub = DeviceLinkHub(unused, unused, broker, 30, 65536, 5.0)
    asyncio.run(hub.command_result("HP-01", CommandResult("c1", True, "done")))
    [(topic, message)] = broker.sent
    check(topic, message)


def test_a_resync_is_a_resync_message() -> None:
    async def resync() -> tuple[str, Any]:
        broker = Broker()
        broker.bind(asyncio.get_running_loop())
        async with broker.subscribe() as subscription:
            broker.resync_all()
            return await subscription.get()

    topic, message = asyncio.run(resync())
    assert topic == Topic.RESYNC
    check(topic, message)
