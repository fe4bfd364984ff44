"""Two operators share a storm: each sees who holds what, takes the next unclaimed alarm with
one key, and a supervisor moves an alarm from one to the other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from helppoint.domain.model import Role
from helppoint.store.repositories import IncidentFilter

from .harness import Consoles, record_event

pytestmark = pytest.mark.browser


def queue_row(page: Page, unit_id: str) -> Any:
    return page.locator(f".queue-row[data-unit='{unit_id}']")


def test_two_operators_take_the_next_alarm_and_a_supervisor_moves_one(
    consoles: Consoles, console_server: Any
) -> None:
    now = datetime.now(UTC)
    for n, unit in enumerate(("HP-01", "HP-02", "HP-03", "HP-04")):
        record_event(console_server, unit, 1, now - timedelta(seconds=30 - n))
    alice = consoles.open("alice")
    bob = consoles.open("bob")

    alice.keyboard.press("w")  # the server picks the oldest waiting alarm for her
    expect(queue_row(alice, "HP-01")).to_have_attribute("data-holder", "alice")
    expect(queue_row(alice, "HP-01")).to_have_attribute("aria-selected", "true")
    expect(queue_row(alice, "HP-01").locator(".holder")).to_have_text(" · yours")
    expect(queue_row(bob, "HP-01").locator(".holder")).to_have_text(" · held by alice")
    bob.keyboard.press("w")  # and the next one for him: never the same
    expect(queue_row(bob, "HP-02")).to_have_attribute("data-holder", "bob")
    expect(bob.locator("#claim-info")).to_have_text("Claimed by bob")
    expect(alice.locator("#holders-line")).to_have_text("Held: yours 1 · bob 1 · nobody 2")
    expect(bob.locator("#holders-line")).to_have_text("Held: yours 1 · alice 1 · nobody 2")

    sam = consoles.open("sam", role=Role.SUPERVISOR)
    sam.goto(f"{console_server.base_url}/supervisor")
    held = sam.locator("#holders-table tr[data-unit='HP-01']")
    expect(held.locator(".holder")).to_have_text("alice")
    expect(sam.locator("#holders-summary")).to_contain_text("alice holds 1 · bob holds 1")
    held.get_by_label("Move INC-000001 to").select_option("bob")
    held.get_by_role("button", name="Move").click()
    expect(held.locator(".holder")).to_have_text("bob")

    # Bob hears and sees that it is his now; Alice sees who holds it and cannot close it.
    expect(bob.locator(".toast")).to_contain_text("was moved to you from alice")
    expect(queue_row(bob, "HP-01").locator(".holder")).to_have_text(" · yours")
    expect(queue_row(alice, "HP-01").locator(".holder")).to_have_text(" · held by bob")
    expect(alice.locator("#claim-info")).to_have_text("Held by bob (moved; acknowledged by alice)")
    expect(alice.locator("#weed-out-button")).to_be_disabled()
    queue_row(bob, "HP-01").click()
    bob.keyboard.press("f")
    expect(queue_row(bob, "HP-01")).to_have_count(0)
    with console_server.database.uow() as uow:
        [incident], _ = uow.incidents.search(IncidentFilter(unit_id="HP-01"))
        assert (incident.acknowledged_by, incident.held_by, incident.closed_by) == (
            "alice",
            "bob",
            "bob",
        )
        moved = [a for a in uow.audit.for_incident(incident.id) if a.action == "incident.moved"]
        assert [(a.actor, a.detail) for a in moved] == [
            ("sam", {"from_operator": "alice", "to_operator": "bob"})
        ]
