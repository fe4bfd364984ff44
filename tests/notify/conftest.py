"""Fixtures for the outbox tests: receivers, a seeded database with a plan, an escalation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from helppoint.domain.classification import Classification
from helppoint.domain.events import EventType
from helppoint.domain.plans import Channel
from helppoint.notify.base import Notifier
from helppoint.notify.console import ConsoleNotifier
from helppoint.notify.email import EmailNotifier, SmtpSettings
from helppoint.notify.webhook import CapNotifier, WebhookNotifier
from helppoint.services import incidents, notifications, plans
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo

from .receivers import HttpReceiver, SmtpReceiver

PLAN = """\
plan: Town centre
zone: town-centre
police:
  urn: NP-2026-0042
  phone: "101"
rules:
  - when: imminent_threat
    actions:
      - notify: police
        channel: webhook
        to: {http}/eido
        template: "Imminent threat at {{unit_name}} ({{ref}}), URN {{police_urn}}"
        ack_within: 60
      - notify: police
        channel: cap
        to: {http}/cap
        template: "CAP for {{ref}}"
        ack_within: 60
      - notify: council_safeguarding
        channel: email
        to: safeguarding@council.example
        template: "{{ref}}: {{classification}} at {{unit_name}}"
        ack_within: 600
      - notify: supervisor
        channel: console
        template: "{{ref}}: police notified"
      - notify: police
        channel: phone
        to: "101"
        template: "Call the police about {{ref}}"
"""


@pytest.fixture
def scheme(database: Any, http_receiver: HttpReceiver) -> Any:
    """The demo units with a town-centre plan whose receivers are the test's."""
    seed_demo(database.uow())
    plans.import_plan(database.uow(), PLAN.format(http=http_receiver.url), "admin")
    return database


def open_classified(database: Any, unit: str = "HP-06", seq: int = 1) -> int:
    """An incident at `unit`, acknowledged and classified as an imminent threat."""
    uow = database.uow()
    with uow:
        [result] = handle_device_events(
            uow,
            [ReportedEvent(unit, seq, EventType.ACTIVATION, datetime.now(UTC), {})],
            datetime.now(UTC),
            timedelta(minutes=5),
        )
        uow.commit()
    incident_id = result.incident_id
    assert incident_id is not None
    incidents.acknowledge(database.uow(), incident_id, "olive")
    incidents.classify(database.uow(), incident_id, Classification.IMMINENT_THREAT, "olive")
    return incident_id


@pytest.fixture
def escalated(scheme: Any) -> tuple[Any, int, dict[str, Any]]:
    incident_id = open_classified(scheme)
    view = notifications.escalate(scheme.uow(), incident_id, "olive", "10.0.0.7")
    return scheme, incident_id, view


@pytest.fixture
async def notifiers(
    smtp_receiver: SmtpReceiver,
) -> AsyncIterator[Callable[[], tuple[dict[Channel, Notifier], list[Any]]]]:
    """Make the channels, pointed at the test receivers; also returns the console alerts."""
    clients: list[httpx.AsyncClient] = []

    def make() -> tuple[dict[Channel, Notifier], list[Any]]:
        client = httpx.AsyncClient(timeout=None)
        clients.append(client)
        console: list[Any] = []
        smtp = SmtpSettings("127.0.0.1", smtp_receiver.port, "control-room@helppoint.example")
        return {
            Channel.WEBHOOK: WebhookNotifier(client),
            Channel.CAP: CapNotifier(client, "control-room@helppoint.example"),
            Channel.EMAIL: EmailNotifier(smtp),
            Channel.CONSOLE: ConsoleNotifier(lambda topic, message: console.append(message)),
        }, console

    yield make
    for client in clients:
        await client.aclose()
