"""Maintainers hear of fault tickets outside the board, through the notification outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.events import EventType
from helppoint.domain.model import Role
from helppoint.domain.plans import Channel
from helppoint.notify.email import EmailNotifier, SmtpSettings
from helppoint.notify.webhook import WebhookNotifier
from helppoint.services import maintainers, maintenance
from helppoint.services.ingest import ReportedEvent, handle_device_events
from helppoint.services.seed import seed_demo
from helppoint.services.supervision import sweep
from helppoint.workers.outbox import OutboxWorker
from tests.notify.receivers import HttpReceiver, SmtpReceiver

from .test_web import client

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def scheme(database: Any, http_receiver: HttpReceiver) -> Any:
    seed_demo(database.uow())
    with database.uow() as uow:
        zone_of = {u.id: u.zone_id for u in uow.units.list()}
    other = next(z for z in set(zone_of.values()) if z != zone_of["HP-06"])
    maintainers.add_contact(
        database.uow(), "Everyone", "email", "fixers@council.example", "ada", T0
    )
    maintainers.add_contact(
        database.uow(),
        "Zone desk",
        "webhook",
        f"{http_receiver.url}/tickets",
        "ada",
        T0,
        zone_id=zone_of["HP-06"],
    )
    maintainers.add_contact(
        database.uow(), "Elsewhere", "email", "other@council.example", "ada", T0, zone_id=other
    )
    return database


def fault(database: Any, unit: str, seq: int, part: str = "light") -> None:
    with database.uow() as uow:
        handle_device_events(
            uow,
            [ReportedEvent(unit, seq, EventType.FAULT, T0, {"fault": part, "detail": "dead"})],
            T0,
            timedelta(minutes=5),
        )
        uow.commit()


def queued(database: Any) -> list[tuple[str, str, str]]:
    with database.uow() as uow:
        rows = []
        for ticket in uow.tickets.list():
            assert ticket.incident_id is not None
            for n in uow.notifications.for_incident(ticket.incident_id):
                rows.append((n.channel.value, n.target, n.message))
        return rows


def test_a_new_ticket_notifies_the_units_maintainers_once(
    scheme: Any, http_receiver: HttpReceiver
) -> None:
    fault(scheme, "HP-06", 1)
    fault(scheme, "HP-06", 2)  # the same fault again: counted on the ticket, nobody told twice
    sent = queued(scheme)
    assert sorted((c, t) for c, t, _ in sent) == [
        ("email", "fixers@council.example"),
        ("webhook", f"{http_receiver.url}/tickets"),
    ]
    assert all(
        m.startswith("New fault: MNT-") and "light at" in m and "HP-06" in m for _, _, m in sent
    )


def test_fixed_and_verified_are_told_too(scheme: Any) -> None:
    fault(scheme, "HP-06", 1)
    with scheme.uow() as uow:
        [ticket] = uow.tickets.list()
    maintenance.mark_fixed(scheme.uow, ticket.id, "eve")
    maintenance.verify(scheme.uow, ticket.id, "sam")
    messages = [m for _, _, m in queued(scheme)]
    assert sum(m.startswith("New fault") for m in messages) == 2
    assert sum(m.startswith("Fixed, waiting") and "fixed by eve" in m for m in messages) == 2
    assert sum(m.startswith("Fix verified") and "verified by sam" in m for m in messages) == 2


def test_an_offline_unit_coming_back_tells_the_maintainers(scheme: Any) -> None:
    with scheme.uow() as uow:
        uow.units.touch(["HP-02"], T0)
        uow.commit()
    sweep(scheme.uow(), T0 + timedelta(seconds=40))
    with scheme.uow() as uow:
        uow.units.touch(["HP-02"], T0 + timedelta(seconds=60))
        uow.commit()
    sweep(scheme.uow(), T0 + timedelta(seconds=61))
    messages = [m for _, to, m in queued(scheme) if to == "fixers@council.example"]
    assert [m.split(":")[0] for m in messages] == ["New fault", "Fixed, waiting for verification"]
    assert "offline" in messages[0] and "fixed by system" in messages[1]


async def test_delivered_by_email_and_webhook(
    scheme: Any, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    fault(scheme, "HP-06", 1, "camera")
    async with httpx.AsyncClient(timeout=None) as http:
        channels = {
            Channel.WEBHOOK: WebhookNotifier(http),
            Channel.EMAIL: EmailNotifier(
                SmtpSettings("127.0.0.1", smtp_receiver.port, "control-room@helppoint.example")
            ),
        }
        worker = OutboxWorker(scheme.uow, channels)
        try:
            await worker.run_once()
        finally:
            await worker.stop()
    [email] = smtp_receiver.messages.values()
    assert smtp_receiver.recipients[next(iter(smtp_receiver.messages))] == [
        "fixers@council.example"
    ]
    assert "[Maintenance]" in email["Subject"]
    assert "New fault: MNT-" in email.get_payload() and "camera" in email.get_payload()
    [key] = http_receiver.processed
    assert b"New fault: MNT-" in http_receiver.bodies[key]


@pytest.mark.parametrize(
    ("channel", "target", "message"),
    [
        ("sms", "07700900000", "email or webhook"),
        ("email", "not-an-address", "not an email address"),
        ("webhook", "ftp://example.org/x", "not an http"),
        ("webhook", "https://", "not an http"),
    ],
)
def test_bad_contacts_are_refused(database: Any, channel: str, target: str, message: str) -> None:
    seed_demo(database.uow())
    with pytest.raises(InvalidInput, match=message):
        maintainers.add_contact(database.uow(), "X", channel, target, "ada", T0)
    with pytest.raises(NotFound):
        maintainers.add_contact(
            database.uow(), "X", "email", "a@b.example", "ada", T0, zone_id="nope"
        )
    assert maintainers.contacts(database.uow()) == []


def test_contacts_over_the_api(live_server: Any) -> None:
    admin = client(live_server, "ada", Role.ADMIN)
    supervisor = client(live_server, "sue", Role.SUPERVISOR)
    added = admin.post(
        "/api/maintainers",
        json={"name": "Depot", "channel": "email", "target": "depot@council.example"},
    )
    assert added.status_code == 201, added.text
    bad = admin.post("/api/maintainers", json={"name": "X", "channel": "fax", "target": "1"})
    assert bad.status_code == 400
    assert (
        supervisor.post(
            "/api/maintainers", json={"name": "Y", "channel": "email", "target": "y@x.example"}
        ).status_code
        == 403
    )
    assert [c["name"] for c in supervisor.get("/api/maintainers").json()] == ["Depot"]
    assert admin.delete(f"/api/maintainers/{added.json()['id']}").status_code == 204
    assert admin.delete(f"/api/maintainers/{added.json()['id']}").status_code == 404
    assert admin.get("/api/maintainers").json() == []
