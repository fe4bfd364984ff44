"""Escalation in the browser: the operator escalates a genuine activation under the trigger
plan and sees each notification's delivery; the supervisor's console is alerted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from helppoint.domain.model import Role
from helppoint.services.plans import import_plan
from tests.notify.receivers import HttpReceiver

from .harness import Consoles

pytestmark = pytest.mark.browser

PLAN = """\
plan: Town centre
zone: town-centre
rules:
  - when: imminent_threat
    actions:
      - notify: police
        channel: webhook
        to: {url}/cad
        template: "Imminent threat at {{unit_name}} ({{ref}})"
        ack_within: 120
      - notify: supervisor
        channel: console
        template: "{{ref}} escalated to the police"
"""


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    started = HttpReceiver().start()
    yield started
    started.stop()


def test_operator_escalates_and_sees_delivery_supervisor_is_alerted(
    consoles: Consoles, units: Any, console_server: Any, receiver: HttpReceiver
) -> None:
    import_plan(console_server.database.uow(), PLAN.format(url=receiver.url), "admin")
    supervisor = consoles.open("sue", Role.SUPERVISOR)
    page = consoles.open("alice")
    units("HP-06").press()
    row = page.locator(".queue-row[data-unit='HP-06']")
    expect(row).to_be_visible()
    page.keyboard.press("a")
    expect(row).to_have_attribute("data-state", "acknowledged")
    escalate = page.get_by_role("button", name="Escalate under the trigger plan")
    expect(escalate).to_be_disabled()
    page.locator("#classification").select_option("imminent_threat")
    # The plan's ack_within is a deadline for delivery, and the checklist says so.
    expect(page.locator("#checklist li[data-notify='police']")).to_contain_text(
        "to be delivered within 120 s"
    )
    page.get_by_role("button", name="Classify").click()
    expect(row).to_have_attribute("data-state", "assessed")
    expect(escalate).to_be_enabled()
    escalate.click()

    expect(row).to_have_attribute("data-state", "escalated")
    webhook = page.locator("#notifications li[data-channel='webhook']")
    expect(webhook).to_have_attribute("data-status", "delivered")
    expect(webhook).to_contain_text("Police · Webhook (EIDO)")
    expect(webhook).to_contain_text("Delivered")
    expect(page.locator("#notifications li[data-channel='console']")).to_have_attribute(
        "data-status", "delivered"
    )
    expect(escalate).to_be_hidden()
    assert len(receiver.processed) == 1

    alert = supervisor.locator(".toast", has_text="Supervisor alert")
    expect(alert).to_contain_text("escalated to the police")
    expect(page.locator(".toast", has_text="Supervisor alert")).to_have_count(0)


def test_a_late_checklist_answer_does_not_draw_over_the_chosen_classifications_actions(
    consoles: Consoles, units: Any, console_server: Any, receiver: HttpReceiver
) -> None:
    """The checklist asked for before a classification was chosen, answered after the one for
    the classification (a busy server): the plan's actions for the choice stay. They went back
    to "Choose a classification to see the plan's actions." in a loaded run."""
    import_plan(console_server.database.uow(), PLAN.format(url=receiver.url), "admin")
    page = consoles.open("alice")
    held: list[Route] = []

    def hold_plain(route: Route) -> None:
        if "classification=" in route.request.url:
            route.continue_()
        else:
            held.append(route)  # answered below, late

    page.route("**/api/incidents/*/checklist*", hold_plain)
    units("HP-06").press()
    row = page.locator(".queue-row[data-unit='HP-06']")
    expect(row).to_be_visible()
    page.keyboard.press("a")
    expect(row).to_have_attribute("data-state", "acknowledged")
    page.locator("#classification").select_option("imminent_threat")
    police = page.locator("#checklist li[data-notify='police']")
    expect(police).to_contain_text("to be delivered within 120 s")
    assert held, "no checklist was asked for before the classification"
    for route in held:
        route.continue_()
    # The late answers have arrived and been read once a later request has made its round
    # trip (the page reads each answer as it comes).
    page.evaluate("() => fetch('/healthz').then((answer) => answer.text())")
    expect(police).to_contain_text("to be delivered within 120 s")
