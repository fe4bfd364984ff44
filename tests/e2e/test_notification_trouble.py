"""A supervisor opening the console or the SLA page after a notification failed sees it in a
persistent panel (it used to show nothing); operators do not get the panel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from helppoint.domain.model import Role
from helppoint.domain.notifications import Notification
from helppoint.domain.plans import ActionKind, Channel

from .axe import serious_violations
from .harness import PASSWORD, Consoles, record_event

pytestmark = pytest.mark.browser


def test_supervisors_see_notifications_in_trouble(consoles: Consoles) -> None:
    server = consoles.server
    now = datetime.now(UTC)
    record_event(server, "HP-05", 1, now - timedelta(minutes=5))
    uow = server.database.uow()
    with uow:
        (incident,) = uow.incidents.open_for_units(["HP-05"])
        failing = Notification(
            incident_id=incident.id,
            kind=ActionKind.POLICE,
            channel=Channel.EMAIL,
            target="police@example.org",
            message="m",
            idempotency_key="trouble-1",
            created_at=now - timedelta(minutes=4),
            next_attempt_at=now + timedelta(hours=1),
            deadline_at=now - timedelta(minutes=3),
            attempts=3,
            last_error="no email channel is configured",
        )
        uow.notifications.add(failing)
        uow.commit()
    server.add_operator("sue", PASSWORD, Role.SUPERVISOR)
    page = consoles.new_page()
    consoles.sign_in(page, "sue")
    panel = page.locator("#notification-trouble")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("1 notification in trouble")
    expect(panel).to_contain_text("Police by email to police@example.org overdue")
    expect(panel).to_contain_text("no email channel is configured")
    page.goto(f"{server.base_url}/supervisor")
    expect(page.locator("#notification-trouble")).to_be_visible()
    assert serious_violations(page) == []

    operator = consoles.new_page()
    server.add_operator("olive", PASSWORD, Role.OPERATOR)
    consoles.sign_in(operator, "olive")
    expect(operator.locator("#queue-pane")).to_be_visible()
    expect(operator.locator("#notification-trouble")).to_have_count(0)
