"""The outbox end to end on SQLite and PostgreSQL: escalation writes notifications in its own
transaction; the worker delivers them to a real HTTP receiver and a real SMTP server, retries
with backoff, alarms the overdue, and survives being killed mid-delivery."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest

from helppoint.domain.errors import InvalidInput, InvalidTransition
from helppoint.domain.notifications import RetryPolicy
from helppoint.services import incidents, notifications
from helppoint.services.clock import utcnow
from helppoint.workers.outbox import OutboxWorker
from tests.write_locks import transactions

from .conftest import open_classified

LEASE = timedelta(seconds=30)


def stored(database: Any, incident_id: int) -> list[dict[str, Any]]:
    return notifications.notifications_for(database.uow(), incident_id)


def audit_actions(database: Any, prefix: str) -> list[str]:
    uow = database.uow()
    with uow:
        rows, _ = uow.audit.search(action=prefix, limit=None)
        return [e.action for e in reversed(rows)]


def worker(database: Any, notifiers: Any, shift: timedelta = timedelta(0)) -> OutboxWorker:
    channels, _ = notifiers()
    return OutboxWorker(database.uow, channels, lease=LEASE, clock=lambda: utcnow() + shift)


def test_escalation_queues_the_plan_actions_with_the_decision(escalated: Any) -> None:
    database, incident_id, view = escalated
    assert view["state"] == "escalated" and view["escalated_at"] is not None
    queued = stored(database, incident_id)
    assert [(n["channel"], n["status"], n["attempts"]) for n in queued] == [
        ("webhook", "pending", 0),
        ("cap", "pending", 0),
        ("email", "pending", 0),
        ("console", "pending", 0),
    ]
    assert len({n["idempotency_key"] for n in queued}) == 4
    assert queued[0]["message"].startswith("Imminent threat at Abington Street (INC-")
    assert queued[0]["message"].endswith("URN NP-2026-0042")
    uow = database.uow()
    with uow:
        [entry] = uow.audit.search(action="incident.escalated")[0]
    assert entry.actor == "olive" and entry.address == "10.0.0.7"
    assert entry.detail["notifications"] == [n["id"] for n in queued]
    assert entry.detail["manual_actions"] == [{"notify": "police", "channel": "phone", "to": "101"}]


def test_refused_escalations_change_nothing(scheme: Any) -> None:
    incident_id = open_classified(scheme)
    notifications.escalate(scheme.uow(), incident_id, "olive")
    with pytest.raises(InvalidTransition, match="already escalated"):
        notifications.escalate(scheme.uow(), incident_id, "olive")
    assert len(stored(scheme, incident_id)) == 4

    # HP-01 is on the racecourse, which has no plan.
    other = open_classified(scheme, unit="HP-01")
    with pytest.raises(InvalidInput, match="no trigger plan for unit HP-01"):
        notifications.escalate(scheme.uow(), other, "olive")
    assert incidents.incident_detail(scheme.uow(), other)["state"] == "assessed"
    assert stored(scheme, other) == []


async def test_worker_delivers_every_channel_once(
    escalated: Any, notifiers: Any, http_receiver: Any, smtp_receiver: Any
) -> None:
    database, incident_id, _ = escalated
    channels, console = notifiers()
    outbox = OutboxWorker(database.uow, channels, lease=LEASE)
    await outbox.run_once()
    delivered = stored(database, incident_id)
    assert {n["status"] for n in delivered} == {"delivered"}
    assert [n["attempts"] for n in delivered] == [1, 1, 1, 1]
    keys = {n["channel"]: n["idempotency_key"] for n in delivered}

    assert sorted(http_receiver.processed) == sorted([keys["webhook"], keys["cap"]])
    assert http_receiver.content_types[keys["webhook"]] == "application/json"
    assert http_receiver.content_types[keys["cap"]] == "application/cap+xml"
    eido = json.loads(http_receiver.bodies[keys["webhook"]])
    assert eido["idempotencyKey"] == keys["webhook"]
    assert eido["incidentComponent"]["incidentTypeCommonRegistryText"] == "imminent_threat"
    assert eido["incidentComponent"]["externalReferences"] == [
        {"system": "police-urn", "identifier": "NP-2026-0042"}
    ]
    assert eido["locationComponent"][0]["civicAddressText"] == "Abington Street"
    assert b"<identifier>helppoint-" + keys["cap"].encode() in http_receiver.bodies[keys["cap"]]

    assert smtp_receiver.processed == [keys["email"]]
    email = smtp_receiver.messages[keys["email"]]
    assert smtp_receiver.recipients[keys["email"]] == ["safeguarding@council.example"]
    assert email["Message-ID"] == f"<{keys['email']}@helppoint>"
    assert "Imminent threat" in email["Subject"] and "Abington Street" in email["Subject"]
    assert [alert["idempotency_key"] for alert in console] == [keys["console"]]

    assert audit_actions(database, "notification.") == ["notification.delivered"] * 4
    await outbox.run_once()  # nothing is sent twice
    assert sum(http_receiver.seen.values()) == 2 and sum(smtp_receiver.seen.values()) == 1


async def test_failed_deliveries_are_retried_with_backoff(
    escalated: Any, notifiers: Any, http_receiver: Any
) -> None:
    database, incident_id, _ = escalated
    http_receiver.fail_next(2, 503)  # the first webhook and CAP attempts
    policy = RetryPolicy(first=timedelta(seconds=10), longest=timedelta(minutes=1))
    channels, _ = notifiers()
    shift = timedelta(0)
    outbox = OutboxWorker(
        database.uow, channels, policy=policy, lease=LEASE, clock=lambda: utcnow() + shift
    )
    await outbox.run_once()
    by_channel = {n["channel"]: n for n in stored(database, incident_id)}
    for channel in ("webhook", "cap"):
        assert by_channel[channel]["status"] == "pending"
        assert by_channel[channel]["attempts"] == 1
        assert by_channel[channel]["last_error"].startswith("HTTP 503")
    await outbox.run_once()  # not due yet: no new attempt
    assert sum(http_receiver.seen.values()) == 2
    shift = timedelta(seconds=11)
    await outbox.run_once()
    by_channel = {n["channel"]: n for n in stored(database, incident_id)}
    assert [by_channel[c]["attempts"] for c in ("webhook", "cap")] == [2, 2]
    assert {n["status"] for n in by_channel.values()} == {"delivered"}
    assert audit_actions(database, "notification.retry") == ["notification.retry_scheduled"] * 2


async def test_a_refused_notification_is_not_retried_and_alarms(
    escalated: Any, notifiers: Any, http_receiver: Any
) -> None:
    database, incident_id, _ = escalated
    http_receiver.fail_next(2, 400)
    await worker(database, notifiers).run_once()
    by_channel = {n["channel"]: n for n in stored(database, incident_id)}
    assert (by_channel["webhook"]["status"], by_channel["webhook"]["attempts"]) == ("failed", 1)
    assert by_channel["email"]["status"] == "delivered"
    assert audit_actions(database, "notification.failed") == ["notification.failed"] * 2


async def test_undelivered_after_its_deadline_alarms_the_supervisor_once(
    escalated: Any, notifiers: Any, http_receiver: Any
) -> None:
    database, incident_id, _ = escalated
    http_receiver.fail_next(100, 503)
    await worker(database, notifiers).run_once()
    assert notifications.alarm_overdue(database.uow(), utcnow()) == []
    late = utcnow() + timedelta(seconds=61)  # past the 60 s deadline of webhook and CAP
    alerts = notifications.alarm_overdue(database.uow(), late)
    assert sorted(a["notification"]["channel"] for a in alerts) == ["cap", "webhook"]
    assert all(a["kind"] == "notification_overdue" for a in alerts)
    assert "not delivered by its deadline" in alerts[0]["message"]
    assert notifications.alarm_overdue(database.uow(), late) == []
    overdue = {n["channel"]: n["overdue"] for n in stored(database, incident_id)}
    assert overdue == {"webhook": True, "cap": True, "email": False, "console": False}
    assert audit_actions(database, "notification.overdue") == ["notification.overdue"] * 2


async def test_a_round_with_nothing_to_do_takes_no_write_lock(
    escalated: Any, notifiers: Any, http_receiver: Any, smtp_receiver: Any
) -> None:
    database, incident_id, _ = escalated
    outbox = worker(database, notifiers)
    with transactions(database.engine) as began:
        await outbox._round()  # delivers the four, and says when to wake
    assert began.writing >= 4
    assert {n["status"] for n in stored(database, incident_id)} == {"delivered"}
    # Nothing due, nothing overdue: the round only reads (on SQLite the event writer's
    # commits never wait for it).
    with transactions(database.engine) as began:
        assert await outbox._round() is None
    assert began.writing == 0


async def test_killed_mid_delivery_each_notification_reaches_its_receiver_once(
    escalated: Any, notifiers: Any, http_receiver: Any, smtp_receiver: Any
) -> None:
    database, incident_id, _ = escalated
    http_receiver.hold_next()  # the first HTTP delivery gets no answer...
    first = worker(database, notifiers)
    first.start()
    await asyncio.to_thread(http_receiver.held.wait, 30)
    await first.stop()  # ...and the worker dies while waiting for it
    held_key = next(key for key, count in http_receiver.seen.items() if count == 1)
    unfinished = [n for n in stored(database, incident_id) if n["status"] == "pending"]
    assert held_key in {n["idempotency_key"] for n in unfinished}

    # A new worker takes over what the dead one held once its lease has run out.
    await worker(database, notifiers, shift=LEASE + timedelta(seconds=1)).run_once()
    final = stored(database, incident_id)
    assert {n["status"] for n in final} == {"delivered"}
    http_keys = sorted(n["idempotency_key"] for n in final if n["channel"] in ("webhook", "cap"))
    assert sorted(http_receiver.processed) == http_keys  # once per key...
    assert http_receiver.seen[held_key] == 2  # ...although the held one arrived twice
    email_key = next(n["idempotency_key"] for n in final if n["channel"] == "email")
    assert smtp_receiver.processed == [email_key]
