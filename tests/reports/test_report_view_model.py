"""The report's JSON (services/reports.report_view) is exactly what its response model
(web/reports.MonthlyReportView, hence /openapi.json) describes, for a month and a year, with
trends, an intervention and the survey section filled in.

A key added to one and not the other fails here; before, a field added to the report failed
validation in the route, a 500 only a browser test happened to catch (b413c02).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from helppoint.domain.reports import CostInputs, Month, Year
from helppoint.domain.survey import Answer
from helppoint.services.reports import add_intervention, build_monthly_report, report_view
from helppoint.services.survey import record_answer
from helppoint.web.reports import MonthlyReportView
from tests.reports.history import seed_october

COSTS = CostInputs(capital=22_000, capital_months=60, monitoring_per_month=500)
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("period", [Month(2026, 10), Year(2026)], ids=["month", "year"])
def test_the_report_is_exactly_its_model(database: Any, period: Month | Year) -> None:
    seed_october(database.uow)
    add_intervention(database.uow(), "HP-01", date(2026, 10, 5), "new sign", "sue", NOW)
    record_answer(database.uow(), "HP-01", Answer(feeling=4), datetime(2026, 10, 9, 20, tzinfo=UTC))
    view = report_view(build_monthly_report(database.uow(), period, COSTS, now=NOW))
    assert view["trend"] is not None and view["interventions"] and view["survey"] is not None
    assert set(view) == set(MonthlyReportView.model_fields)
    # Nested models too: a key a nested model lacks would be dropped from the dump.
    assert MonthlyReportView.model_validate(view).model_dump(mode="json") == view
