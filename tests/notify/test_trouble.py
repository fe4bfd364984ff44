"""Nothing fails silently: retries stop (and say why) once the incident has been closed for a
while, and supervisors see every notification in trouble until it is resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from helppoint.domain.notifications import Notification, NotificationStatus, RetryPolicy
from helppoint.domain.plans import ActionKind, Channel
from helppoint.services import incidents
from helppoint.services.clock import utcnow
from helppoint.services.notification_trouble import notifications_in_trouble
from helppoint.workers.outbox import OutboxWorker

from .test_outbox import LEASE, stored

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
POLICY = RetryPolicy(first=timedelta(seconds=10), longest=timedelta(minutes=5))


def _notification() -> Notification:
    return Notification(
        incident_id=1,
        kind=ActionKind.POLICE,
        channel=Channel.EMAIL,
        target="police@example.org",
        message="m",
        idempotency_key="k",
        created_at=T0,
        next_attempt_at=T0,
    )


def test_retries_go_on_while_the_incident_is_open() -> None:
    n = _notification()
    n.attempts = 3
    assert n.attempt_failed("refused", T0, POLICY, retry=True) is False
    assert n.next_attempt_at == T0 + timedelta(seconds=40)


def test_retries_stop_after_the_incident_closed_and_say_so() -> None:
    n = _notification()
    n.attempts = 3
    closed = T0 - timedelta(minutes=6)
    assert n.attempt_failed("refused", T0, POLICY, True, closed) is False  # within 10 min
    n.attempts = 8
    assert n.attempt_failed("refused", T0, POLICY, True, closed) is True
    assert n.status is NotificationStatus.FAILED
    assert n.last_error == (
        "refused; retries stopped: the incident was closed at 09:54 UTC, more than 10 min "
        "before the next try"
    )


def test_running_out_of_attempts_says_so() -> None:
    n = _notification()
    n.attempts = POLICY.max_attempts
    assert n.attempt_failed("HTTP 503", T0, POLICY, True) is True
    assert n.last_error == f"HTTP 503; gave up after {POLICY.max_attempts} attempts"


async def test_an_unconfigured_channel_stops_retrying_after_close_and_shows_in_trouble(
    escalated: Any, notifiers: Any
) -> None:
    database, incident_id, _ = escalated
    channels, _ = notifiers()
    del channels[Channel.EMAIL]  # no SMTP configured, as on a first installation
    shift = timedelta(0)
    worker = OutboxWorker(
        database.uow, channels, policy=POLICY, lease=LEASE, clock=lambda: utcnow() + shift
    )
    await worker.run_once()
    email = next(n for n in stored(database, incident_id) if n["channel"] == "email")
    assert email["status"] == "pending" and "no email channel" in email["last_error"]
    (trouble,) = notifications_in_trouble(database.uow(), utcnow())
    assert (trouble.state, trouble.incident_open) == ("retrying", True)
    assert trouble.notification.target == "safeguarding@council.example"

    incidents.close(database.uow(), incident_id, "olive", "test over")
    shift = timedelta(minutes=11)  # past the 10 min retries go on after closing
    await worker.run_once()
    email = next(n for n in stored(database, incident_id) if n["channel"] == "email")
    assert email["status"] == "failed"
    assert "retries stopped: the incident was closed at" in email["last_error"]
    (trouble,) = notifications_in_trouble(database.uow(), utcnow() + shift)
    assert (trouble.state, trouble.incident_open) == ("given up", False)
    later = utcnow() + timedelta(hours=25)
    assert notifications_in_trouble(database.uow(), later) == []


def test_an_overdue_notification_is_in_trouble(escalated: Any) -> None:
    database, _, _ = escalated
    assert notifications_in_trouble(database.uow(), utcnow()) == []
    late = notifications_in_trouble(database.uow(), utcnow() + timedelta(seconds=61))
    assert sorted((t.state, t.notification.channel.value) for t in late) == [
        ("overdue", "cap"),
        ("overdue", "webhook"),
    ]
