"""The supervisor's triage section in a real browser: units on test, rules added and switched
off, patterns and hyperactive units, what rules suggested against what was decided."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from helppoint.domain.classification import Classification
from helppoint.domain.model import Role
from helppoint.services import incidents

from .harness import Consoles, record_event

pytestmark = pytest.mark.browser


def test_supervisor_puts_a_unit_on_test_and_manages_rules(
    consoles: Consoles, console_server: Any
) -> None:
    now = datetime.now(UTC)
    for seq in range(1, 3):
        record_event(console_server, "HP-03", seq, now - timedelta(minutes=10 * seq))
    with console_server.database.uow() as uow:
        ids = [i.id for i in uow.incidents.open_queue()]
    for incident_id in ids:
        incidents.acknowledge(console_server.database.uow(), incident_id, "alice")
        incidents.close(
            console_server.database.uow(), incident_id, "alice", "", Classification.FALSE_MALICIOUS
        )
    page = consoles.open("sue", Role.SUPERVISOR)
    page.goto(f"{console_server.base_url}/supervisor")
    row = page.locator("#triage-patterns tr[data-unit='HP-03']")
    expect(row).to_contain_text("100%")
    expect(page.locator("#triage-hyperactive")).to_contain_text("None.")

    page.fill("#on-test-unit", "HP-04")
    page.fill("#on-test-reason", "lamp replaced")
    page.get_by_role("button", name="Put on test").click()
    expect(page.locator("#triage-on-test li[data-unit='HP-04']")).to_contain_text("lamp replaced")
    page.locator("#triage-on-test li[data-unit='HP-04'] button").click()
    expect(page.locator("#triage-on-test")).to_contain_text("No unit is on test.")

    page.fill("#rule-name", "night pranks")
    page.fill("#rule-mark", "prank")
    page.select_option("#rule-suggest", "false_malicious")
    page.fill("#rule-from", "22")
    page.fill("#rule-to", "4")
    page.get_by_role("button", name="Add rule").click()
    rule = page.locator("#triage-rules tr[data-rule]").first
    expect(rule).to_contain_text("night pranks")
    expect(rule).to_contain_text("0 suggested")
    rule.get_by_role("button", name="Switch off").click()
    expect(rule.get_by_role("button", name="Switch on")).to_be_visible()
    # A bad rule is refused with the server's reason, and nothing is added.
    page.fill("#rule-name", "bad")
    page.fill("#rule-mark", "x")
    page.fill("#rule-from", "22")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator(".toast.error")).to_contain_text("both hours")
    expect(page.locator("#triage-rules tr[data-rule]")).to_have_count(1)
