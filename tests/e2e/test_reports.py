"""The report dashboard in a real browser, on a 1280 px screen and a 390 px phone: the same
figures as the PDF, labelled bars, a heatmap with axes and a legend, trends, stored costs and
interventions, and nothing wider than the screen."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from helppoint.domain.model import Role
from tests.reports.history import seed_october

pytestmark = pytest.mark.browser


def _no_page_overflow(page: Page) -> None:
    """Nothing makes the page wider than the window (tables scroll in their own boxes)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width  # type: ignore[index]


def _figure(page: Page, label: str) -> Any:
    return page.locator(f'[data-figure="{label}"] .value')


@pytest.mark.parametrize("width", [1280, 390])
def test_dashboard_shows_the_month_readably(
    consoles: Any, console_server: Any, width: int, tmp_path: Path
) -> None:
    seed_october(console_server.database.uow)
    page = consoles.open("sue", Role.SUPERVISOR)
    page.set_viewport_size({"width": width, "height": 844 if width == 390 else 800})
    page.goto(f"{console_server.base_url}/reports?month=2026-10")
    expect(page.locator("#report-status")).to_contain_text("October 2026: 10 activations")
    expect(page.locator("#report-year-label")).to_be_hidden()
    expect(_figure(page, "Activations")).to_have_text("10")
    expect(_figure(page, "Genuine")).to_have_text("3")
    expect(_figure(page, "Answered within 30 s (target 80%)")).to_have_text("60.0% NOT met")
    expect(_figure(page, "Never answered")).to_have_text("1")
    expect(_figure(page, "Police called / attended")).to_have_text("1 / 1")
    expect(_figure(page, "Uptime, all units")).to_have_text("99.46%")
    note = page.locator('[data-figure="Activations"] .note')
    expect(note).to_have_text("previous 1 · last year 1")
    # Labelled bars: every unit by name with its count written beside the bar, zeros too.
    bars = page.locator("#chart-units .hbar")
    expect(bars).to_have_count(8)
    hp05 = page.locator('#chart-units .hbar[data-label="HP-05 Market Square"]')
    expect(hp05.locator(".hbar-value")).to_have_text("6")
    expect(
        page.locator('#chart-units .hbar[data-label="HP-02 Racecourse - pavilion"] .hbar-value')
    ).to_have_text("0")
    expect(
        page.locator('#chart-categories .hbar[data-label="technical"] .hbar-value')
    ).to_have_text("1")
    # The heatmap: days and hours as axes, a legend, the tip right below it.
    heat = page.locator("#chart-heatmap svg")
    expect(heat.locator("text", has_text="hour of day (Europe/London)")).to_have_count(1)
    expect(heat.locator("[data-legend]")).to_have_text(["0", "1", "2"])  # 0 to the busiest
    cell = page.locator('#chart-heatmap rect[data-value="2"]')
    cell.focus()
    expect(page.locator("#chart-tip")).to_have_text("Sat 22:00: 2 activations")
    heat_box, tip_box = heat.bounding_box(), page.locator("#chart-tip").bounding_box()
    assert heat_box is not None and tip_box is not None
    assert 0 <= tip_box["y"] - (heat_box["y"] + heat_box["height"]) < 40
    page.get_by_label("Malicious").check()
    expect(page.locator('#chart-heatmap rect[data-value="1"]')).to_have_count(1)
    # The same tables as the PDF.
    expect(page.locator("#answer-table")).to_contain_text("60.0% (6 of 10)")
    # Seconds to a tenth for a reader (the JSON keeps microseconds).
    expect(page.locator("#answer-note")).to_contain_text(
        re.compile(r"Median \d+\.\d s, 90th percentile \d+\.\d s \(answered ones\)")
    )
    expect(page.locator("#unanswered-table")).to_contain_text(
        "HP-01 Racecourse - Kettering Road gate"
    )
    expect(page.locator("#police-table")).to_contain_text("Medical escalations without the police1")
    expect(page.locator("#false-table")).to_contain_text("HP-05 Market Square1012")
    expect(page.locator("#trend-table")).to_contain_text("Year to date (2026 to Oct 26)")
    expect(page.locator("#uptime-table")).to_contain_text("HP-03 Racecourse - middle path96.64%")
    expect(page.locator("#costs-table")).to_contain_text("£22,000 capital / 60 months")
    page.screenshot(path=str(tmp_path / f"reports-{width}.png"), full_page=True)
    _no_page_overflow(page)
    # The heatmap keeps readable cells on a phone and scrolls sideways in its own box.
    cell_box = page.locator("#chart-heatmap rect[data-value]").first.bounding_box()
    assert cell_box is not None and cell_box["width"] >= 15
    for box in ("#chart-units", "#report-figures", "#chart-heatmap", "#chart-trend"):
        found = page.locator(box).bounding_box()
        assert found is not None and found["x"] + found["width"] <= width, box


def test_the_public_survey_on_the_dashboard(consoles: Any, console_server: Any) -> None:
    from tests.reports.test_report_survey import seed

    seed(console_server.database)
    page = consoles.open("sue", Role.SUPERVISOR)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{console_server.base_url}/reports?month=2026-10")
    table = page.locator("#survey-table")
    expect(table).to_contain_text("All answers63.5 (2.185-4.815)66.7% (30.0%-90.3%)")
    expect(table).to_contain_text("Before installation110.0% (0.0%-79.3%)")
    expect(table).to_contain_text("HP-05 Market Square33.333 (1-5)66.7% (20.8%-93.9%)")
    expect(table).to_contain_text("Town centre3")
    expect(table).to_contain_text("22:0024.5 (3.52-5)100.0% (34.2%-100.0%)")
    _no_page_overflow(page)
    page.goto(f"{console_server.base_url}/reports?month=2026-08")
    expect(page.locator("#survey-table")).to_contain_text("No answers in this period.")


def test_costs_are_stored_and_interventions_recorded(consoles: Any, console_server: Any) -> None:
    seed_october(console_server.database.uow)
    page = consoles.open("sue", Role.SUPERVISOR)
    page.goto(f"{console_server.base_url}/reports?month=2026-10")
    expect(page.locator("#report-status")).to_contain_text("October 2026: 10 activations")
    expect(page.locator("#report-pdf")).to_have_attribute(
        "href",
        "/api/reports/monthly.pdf?month=2026-10&capital=22000&capital_months=60&monitoring=0",
    )
    page.get_by_text("Cost inputs").click()
    page.get_by_label("Scheme name").fill("Northampton help points")
    page.get_by_label("Monitoring per month (£)").fill("500")
    page.get_by_role("button", name="Save as the scheme's").click()
    expect(page.locator("#report-scheme")).to_have_text("· Northampton help points")
    expect(_figure(page, "Cost per genuine activation")).to_have_text("£288.89")
    page.locator("#intervention-unit").select_option("HP-01")
    page.get_by_label("Date").fill("2026-10-05")
    page.get_by_label("What was done").fill("new sign")
    page.get_by_role("button", name="Record").click()
    expect(page.locator("#interventions-table")).to_contain_text("new sign2 / 01 / 0")
    page.locator("#interventions-table").get_by_role("button", name="Remove").click()
    expect(page.locator("#interventions-table")).to_contain_text("None recorded")
    page.locator("#report-kind").select_option("year")
    page.locator("#report-year").fill("2026")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#report-status")).to_contain_text("2026: 12 activations")


def test_the_evaluation_in_the_browser(consoles: Any, console_server: Any, tmp_path: Path) -> None:
    from helppoint.services.crime_import import COLUMNS
    from tests.evaluation.test_crime_data import HP05, PARK, _file, _row

    bad = tmp_path / "2026-13-bad-street.csv"
    bad.write_text(f"{','.join(COLUMNS)}\n{_row('2026-13', *HP05)}\n", encoding="utf-8")
    good = [_file(tmp_path, m, 8, 4) for m in ("2025-11", "2025-12", "2026-02", "2026-03")]
    page = consoles.open("sue", Role.SUPERVISOR)
    page.goto(f"{console_server.base_url}/reports/evaluation")
    expect(page.locator("#months-table")).to_contain_text("Nothing imported yet.")
    page.set_input_files("#upload-files", [str(bad)])
    page.get_by_role("button", name="Import").click()
    refused = page.locator('#upload-results li[data-file="2026-13-bad-street.csv"]')
    expect(refused).to_contain_text("refused, nothing stored")
    expect(refused).to_contain_text("line 2: Month must be YYYY-MM, not '2026-13'")
    page.set_input_files("#upload-files", [str(p) for p in good])
    page.get_by_role("button", name="Import").click()
    done = page.locator('#upload-results li[data-file="2026-03-northamptonshire-street.csv"]')
    expect(done).to_contain_text("12 crimes imported (2026-03)")
    expect(done.locator("progress")).to_have_attribute("value", "1")
    expect(page.locator("#months-table tbody tr")).to_have_count(4)
    page.locator('#months-table button[data-month="2026-03"]').click()
    expect(page.locator("#months-table tbody tr")).to_have_count(3)
    expect(page.locator("#months-warnings")).to_contain_text("no data for 2026-01")
    page.get_by_label("Violence and sexual offences (36)").check()
    page.get_by_label("Installed (month)").fill("2026-01")
    # A click on the map adds a comparison place; the circles show it beside the units'.
    expect(page.locator("#evaluation-map")).to_have_attribute("data-circles", "8")
    page.locator("#evaluation-map").click(position={"x": 60, "y": 60})
    expect(page.locator("#evaluate-places")).to_have_value(
        re.compile(r"^Comparison 1:52\.\d+,-0\.\d+$")
    )
    expect(page.locator("#evaluation-map")).to_have_attribute("data-circles", "9")
    page.locator("#evaluate-places").fill(f"Park:{PARK[0]},{PARK[1]}")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#evaluate-status")).to_contain_text("latest evaluation")
    expect(page.locator("#evaluate-caveat")).to_contain_text("association, not proof")
    expect(page.locator("#evaluate-chart svg polyline")).to_have_count(2)
    expect(page.locator("#evaluate-areas")).to_contain_text("Park")
    page.screenshot(path=str(tmp_path / "evaluation.png"), full_page=True)
