"""A commissioning test goes the whole path as test activity: marked as a test on every
channel and the police view, left out of the monthly report, its checklist passed step by
step (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from helppoint.domain.commissioning import COMMISSIONING_REASON
from helppoint.domain.reports import Month
from helppoint.services import commissioning, incidents, notifications
from helppoint.services.police import police_acknowledge, police_incident
from helppoint.services.reports import build_monthly_report
from helppoint.workers.outbox import OutboxWorker

from .conftest import open_classified
from .test_outbox import LEASE


async def test_a_commissioning_test_passes_step_by_step_and_counts_for_nothing(
    scheme: Any, notifiers: Any, http_receiver: Any, smtp_receiver: Any
) -> None:
    assert commissioning.status(scheme.uow(), "HP-06").steps == []
    started = commissioning.start(scheme.uow, "HP-06", "adam")
    assert started.running and started.started_by == "adam"
    assert [s.passed for s in started.steps] == [False]  # waiting for a press
    with scheme.uow() as uow:
        assert COMMISSIONING_REASON in uow.units.get("HP-06").on_test_reason

    incident_id = open_classified(scheme)  # the press, answered and classified
    names = [s.name for s in commissioning.status(scheme.uow(), "HP-06").steps]
    assert names == [
        "Button pressed: the press reached the server",
        "Shown on the console and answered",
        "Classified and escalated under the trigger plan",
        "Notifications delivered",
        "Seen and acknowledged in the police view",
        "Closed",
    ]
    notifications.escalate(scheme.uow(), incident_id, "olive")
    channels, _ = notifiers()
    await OutboxWorker(scheme.uow, channels, lease=LEASE).run_once()
    sent = notifications.notifications_for(scheme.uow(), incident_id)
    assert all(n["message"].startswith("TEST, NO ACTION NEEDED: ") for n in sent)
    webhook, cap = (http_receiver.bodies[n["idempotency_key"]] for n in sent[:2])
    assert json.loads(webhook)["test"] is True
    assert b"<status>Test</status>" in cap
    (email,) = smtp_receiver.messages.values()
    assert " ".join(str(email["Subject"]).split()).startswith("[TEST] [Council safeguarding]")

    assert police_incident(scheme.uow(), incident_id)["on_test"] is True
    police_acknowledge(scheme.uow(), incident_id, "pc-jones", "NP-TEST-1")
    incidents.close(scheme.uow(), incident_id, "olive", "commissioning test")
    run = commissioning.status(scheme.uow(), "HP-06")
    assert [s.passed for s in run.steps] == [True] * 6, run.steps
    assert run.passed

    now = datetime.now(UTC)
    report = build_monthly_report(scheme.uow(), Month(now.year, now.month))
    assert report.activations == 0  # test activity is left out of the figures
