"""The supervisor's SLA dashboard in a real browser, updated live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from helppoint.domain.model import Role
from helppoint.services import incidents

from .harness import UNREACHABLE_TILES, Consoles, record_event

pytestmark = pytest.mark.browser


@pytest.fixture
def console_server(server_factory: Any) -> Any:
    """The console server, judging answer times from two alarms on (sla_min_alarms)."""
    return server_factory(map_tiles_url=UNREACHABLE_TILES, supervision=False, sla_min_alarms=2)


def test_dashboard_shows_shares_per_operator_and_updates_live(
    consoles: Consoles, console_server: Any
) -> None:
    now = datetime.now(UTC)
    record_event(console_server, "HP-05", 1, now - timedelta(seconds=20))
    uow = console_server.database.uow()
    with uow:
        [incident] = uow.incidents.open_queue()
    incidents.acknowledge(console_server.database.uow(), incident.id, "alice")

    page = consoles.open("sue", Role.SUPERVISOR)
    page.get_by_role("link", name="SLA").click()
    page.wait_for_url("**/supervisor")
    expect(page.locator("#sla-link")).to_have_text("Live")
    expect(page.locator("#share-30 .value")).to_have_text("100.0%")
    expect(page.locator("#share-30")).to_have_class("sla-figure")  # one alarm: not judged
    expect(page.locator("#sla-sample")).to_have_text(
        "n = 1 alarm: too few to judge against the targets (fewer than 2; setting sla_min_alarms)"
    )
    expect(page.locator("#sla-operators tr[data-key='alice']")).to_contain_text("100.0%")
    expect(page.locator("#sla-queue")).to_contain_text("No alarm is waiting.")

    record_event(console_server, "HP-06", 1, now - timedelta(seconds=40))
    # Recorded straight into the database: tell the consoles as the ingest path would.
    with console_server.database.uow() as uow:
        waiting = next(i for i in uow.incidents.open_queue() if i.unit_id == "HP-06")
    incidents.add_note(console_server.database.uow(), waiting.id, "seen on camera", "bob")
    expect(page.locator("#sla-queue li[data-id]")).to_contain_text("Abington Street")
    expect(page.locator("#share-30 .value")).to_have_text("50.0%")
    expect(page.locator("#share-30")).to_have_class("sla-figure below")
    expect(page.locator("#sla-sample")).to_have_count(0)


def test_one_late_alarm_is_not_shown_as_a_red_zero(consoles: Consoles, console_server: Any) -> None:
    now = datetime.now(UTC)
    record_event(console_server, "HP-04", 1, now - timedelta(seconds=90))
    with console_server.database.uow() as uow:
        [incident] = uow.incidents.open_queue()
    incidents.acknowledge(console_server.database.uow(), incident.id, "alice")

    page = consoles.open("sue", Role.SUPERVISOR)
    page.goto(f"{console_server.base_url}/supervisor")
    expect(page.locator("#share-30 .value")).to_have_text("0.0%")
    expect(page.locator("#share-30")).to_have_class("sla-figure")
    expect(page.locator("#share-60")).to_have_class("sla-figure")
    expect(page.locator("#sla-sample")).to_contain_text("n = 1 alarm: too few to judge")
    row = page.locator("#sla-operators tr[data-key='alice']")
    expect(row.locator("td.share").first).to_have_text("0.0% (too few to judge)")
    expect(row.locator("td.share.below")).to_have_count(0)


def test_empty_tables_say_so_rather_than_showing_headers_only(
    consoles: Consoles, console_server: Any
) -> None:
    page = consoles.open("sue", Role.SUPERVISOR)
    page.goto(f"{console_server.base_url}/supervisor")
    for table, text in (
        ("#holders-table", "No open alarms: nobody holds anything."),
        ("#sla-operators", "No alarms in this period yet."),
        ("#sla-shifts", "No alarms in this period yet."),
        ("#load-operators", "No alarms accepted in this period yet."),
    ):
        expect(page.locator(f"{table} tbody tr.none-yet")).to_have_text(text)
