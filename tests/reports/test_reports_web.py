"""Reports over HTTP: supervisors only; JSON, CSV, PDF (text and charts) and open data."""

from __future__ import annotations

import csv
import io

import pypdfium2

from helppoint.domain.model import Role
from tests.public.pdf_reading import pdf_pages
from tests.reports.history import seed_october
from tests.web.test_api import client

COSTS = "capital=22000&capital_months=60&monitoring=500"


def _seeded(live_server):  # type: ignore[no-untyped-def]
    # seed_october re-seeds the demo units (harmless) and adds October's history.
    seed_october(live_server.database.uow)
    return client(live_server, "sue", Role.SUPERVISOR)


def test_reports_are_for_supervisors(live_server) -> None:  # type: ignore[no-untyped-def]
    operator = client(live_server, "olly", Role.OPERATOR)
    assert operator.get("/api/reports/monthly?month=2026-10").status_code == 403
    assert operator.get("/reports").status_code == 403
    supervisor = client(live_server, "sue", Role.SUPERVISOR)
    assert supervisor.get("/reports").status_code == 200


def test_json_csv_and_bad_input(live_server) -> None:  # type: ignore[no-untyped-def]
    http = _seeded(live_server)
    report = http.get(f"/api/reports/monthly?month=2026-10&{COSTS}").json()
    assert report["activations"] == 10
    assert report["costs"]["cost_per_genuine"] == round((22_000 / 60 + 500) / 3, 2)
    answer = http.get(f"/api/reports/monthly.csv?month=2026-10&{COSTS}")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = {(r[0], r[1]): r[2] for r in csv.reader(io.StringIO(answer.text))}
    assert rows[("police", "escalated")] == "2"
    assert rows[("police", "police_called")] == "1"
    year = http.get("/api/reports/monthly?year=2026").json()
    assert (year["kind"], year["activations"]) == ("year", 12)
    bad_inputs = (
        "month=2026-13",
        "month=2026-10&capital=-5",
        "month=2026-10&timezone=Mars/Base",
        "month=2026-10&year=2026",
        "year=26",
        "",
    )
    for bad in bad_inputs:
        answer = http.get(f"/api/reports/monthly?{bad}")
        assert answer.status_code in (400, 422), bad
    assert "YYYY-MM" in http.get("/api/reports/monthly?month=oct").json()["detail"]


def test_pdf_has_the_figures_and_the_charts(live_server) -> None:  # type: ignore[no-untyped-def]
    http = _seeded(live_server)
    answer = http.get(f"/api/reports/monthly.pdf?month=2026-10&{COSTS}")
    assert answer.headers["content-type"] == "application/pdf"
    pages = pdf_pages(answer.content)
    text = pages[0][0]
    assert "monthly report 2026-10" in text
    assert "Activations" in text and "Police called / attended" in text
    assert "60.0% NOT met" in text  # 6 of 10 answered within 30 s (1 never answered)
    assert "£288.89" in text  # (22,000 / 60 + 500) / 3 genuine
    document = pypdfium2.PdfDocument(answer.content)
    images = sum(
        1
        for page in document
        for obj in page.get_objects()
        if obj.type == pypdfium2.raw.FPDF_PAGEOBJ_IMAGE
    )
    assert images == 4  # by unit, by zone, heatmap, classifications


def test_open_data_export(live_server) -> None:  # type: ignore[no-untyped-def]
    http = _seeded(live_server)
    answer = http.get("/api/reports/open-data.csv?from=2026-09&to=2026-11")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 24
    assert sum(int(r["activations"]) for r in rows) == 12
    assert http.get("/api/reports/open-data.csv?from=2026-11&to=2026-09").status_code == 400


def test_stored_costs_and_interventions(live_server) -> None:  # type: ignore[no-untyped-def]
    http = _seeded(live_server)
    settings = {
        "scheme_name": "Northampton help points",
        "capital": 22000,
        "capital_months": 60,
        "monitoring_per_month": 500,
    }
    assert http.put("/api/reports/settings", json=settings).status_code == 200
    assert http.get("/api/reports/settings").json()["scheme_name"] == "Northampton help points"
    report = http.get("/api/reports/monthly?month=2026-10").json()  # the stored costs
    assert report["costs"]["cost_per_genuine"] == round((22_000 / 60 + 500) / 3, 2)
    what_if = http.get("/api/reports/monthly?month=2026-10&monitoring=0").json()
    assert what_if["costs"]["cost_per_genuine"] == round(22_000 / 60 / 3, 2)
    bad = settings | {"capital_months": 0}
    assert http.put("/api/reports/settings", json=bad).status_code == 422
    made = http.post(
        "/api/reports/interventions",
        json={"unit_id": "HP-01", "on": "2026-10-05", "what": "new sign"},
    )
    assert made.status_code == 201
    report = http.get("/api/reports/monthly?month=2026-10").json()
    assert [(i["false_before"], i["false_after"]) for i in report["interventions"]] == [(2, 0)]
    wrong = {"unit_id": "HP-99", "on": "2026-10-05", "what": "sign"}
    assert http.post("/api/reports/interventions", json=wrong).status_code == 400
    gone = http.delete(f"/api/reports/interventions/{made.json()['id']}")
    assert gone.status_code == 204
    assert http.get("/api/reports/interventions").json() == []
    operator = client(live_server, "olly", Role.OPERATOR)
    assert operator.put("/api/reports/settings", json=settings).status_code == 403
