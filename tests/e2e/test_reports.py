"""The report dashboard in a real browser: figures and interactive charts for a seeded month."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from helppoint.domain.model import Role
from tests.reports.history import seed_october

pytestmark = pytest.mark.browser


def test_dashboard_shows_the_month_with_interactive_charts(
    consoles: Any, console_server: Any
) -> None:
    seed_october(console_server.database.uow)
    page = consoles.open("sue", Role.SUPERVISOR)
    page.goto(f"{console_server.base_url}/reports?month=2026-10")
    expect(page.locator("#report-status")).to_contain_text("2026-10: 10 activations")
    expect(page.locator('[data-figure="Activations"] .value')).to_have_text("10")
    expect(page.locator('[data-figure="Police called / attended"] .value')).to_have_text("1 / 1")
    bars = page.locator("#chart-units rect[data-label]")
    expect(bars).to_have_count(8)
    page.locator('#chart-units rect[data-label="HP-05"]').hover()
    expect(page.locator("#chart-tip")).to_have_text("HP-05: 6")
    page.locator('#chart-heatmap rect[data-value="2"]').focus()
    expect(page.locator("#chart-tip")).to_have_text("Sat 22:00: 2 activations")
    expect(page.locator("#report-pdf")).to_have_attribute(
        "href",
        "/api/reports/monthly.pdf?month=2026-10&capital=22000&capital_months=60&monitoring=0",
    )
    page.get_by_label("Monitoring per month (£)").fill("500")
    page.get_by_role("button", name="Show").click()
    expect(page.locator('[data-figure="Cost per genuine activation"] .value')).to_have_text(
        "£288.89"
    )
