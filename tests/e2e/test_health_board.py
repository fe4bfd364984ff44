"""The health board in a real browser: unit states, the maintenance queue and its workflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from helppoint.domain.events import EventType
from helppoint.domain.model import Role
from helppoint.services.ingest import ReportedEvent, handle_device_events

from .harness import PASSWORD, Consoles

pytestmark = pytest.mark.browser


def report_fault(server: Any, unit_id: str) -> None:
    now = datetime.now(UTC)
    with server.database.uow() as uow:
        fault = ReportedEvent(
            unit_id, 1, EventType.FAULT, now, {"fault": "light", "detail": "lamp open circuit"}
        )
        handle_device_events(uow, [fault], now, timedelta(minutes=5))
        uow.commit()


def board(consoles: Consoles, username: str) -> Page:
    consoles.server.add_operator(username, PASSWORD, Role.SUPERVISOR)
    page = consoles.new_page()
    consoles.sign_in(page, username)
    page.wait_for_url(f"{consoles.server.base_url}/")
    page.get_by_role("link", name="Health").click()
    page.wait_for_url("**/health-board")
    return page


def test_board_shows_units_and_a_fault_goes_through_the_queue(consoles: Consoles) -> None:
    report_fault(consoles.server, "HP-04")
    page = board(consoles, "sue")
    expect(page.locator("#health-rows tr")).to_have_count(8)
    row = page.locator('#health-rows tr[data-unit="HP-04"]')
    expect(row).to_have_attribute("data-status", "up")
    expect(row.locator(".unit-state")).to_have_text("Up")
    expect(page.locator('#health-rows tr[data-unit="HP-01"] .unit-state')).to_have_text(
        "Not yet in service"
    )
    expect(page.locator("#health-summary")).to_have_text(
        "8 units: 1 up, 0 down, 0 late, 7 not yet in service; 1 open ticket"
    )
    ticket = page.locator('#ticket-rows tr[data-unit="HP-04"]')
    expect(ticket).to_contain_text("lamp open circuit")
    page.once("dialog", lambda dialog: dialog.accept("eve"))
    ticket.get_by_role("button", name="Assign").click()
    expect(ticket.locator(".ticket-state")).to_have_text("assigned")
    ticket.get_by_role("button", name="Fixed").click()
    expect(ticket.locator(".ticket-state")).to_have_text("fixed")
    ticket.get_by_role("button", name="Verify").click()  # sue fixed it: she may not verify
    expect(page.locator("#toasts")).to_contain_text("someone other than its fixer")
    other = board(consoles, "sam")
    other.locator('#ticket-rows tr[data-unit="HP-04"]').get_by_role("button", name="Verify").click()
    expect(other.locator("#ticket-rows tr[data-unit]")).to_have_count(0)
    expect(other.locator("#ticket-rows")).to_have_text("No open tickets.")
    expect(other.locator("#health-summary")).to_contain_text("0 open tickets")
