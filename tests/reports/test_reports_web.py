"""Reports over HTTP: supervisors only; JSON, CSV, PDF (text and charts) and open data."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pypdfium2

from helppoint.domain.model import Role
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


def _pages(content: bytes, folder: Path) -> list[str]:
    """Every page rendered to PNG (kept in `folder` to look at) and its text; checks that
    nothing is cut off: every character and every chart lies inside the page's margins."""
    document = pypdfium2.PdfDocument(content)
    texts = []
    try:
        for number, page in enumerate(document, start=1):
            width, height = page.get_size()
            image = page.render(scale=100 / 72).to_pil()
            image.save(folder / f"page-{number}.png")
            assert image.getextrema() != ((255, 255), (255, 255), (255, 255)), number
            textpage = page.get_textpage()
            margin = 10 * 72 / 25.4  # 10 mm: the text frame is 18 mm in, the footer 10 mm up
            for index in range(textpage.count_chars()):
                left, bottom, right, top = textpage.get_charbox(index)
                if right > left:  # a visible character
                    assert margin <= left and right <= width - margin, (number, index)
                    assert margin - 1 <= bottom and top <= height - margin, (number, index)
            for obj in page.get_objects():
                if obj.type == pypdfium2.raw.FPDF_PAGEOBJ_IMAGE:
                    left, bottom, right, top = obj.get_bounds()
                    assert margin <= left and right <= width - margin, number
                    assert margin <= bottom and top <= height - margin, number
            texts.append(" ".join(textpage.get_text_bounded().split()))
    finally:
        document.close()
    return texts


def test_the_pdf_report(live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    http = _seeded(live_server)
    settings = {"scheme_name": "Northampton help points", "capital": 22000,
                "capital_months": 60, "monitoring_per_month": 500}  # fmt: skip
    assert http.put("/api/reports/settings", json=settings).status_code == 200
    made = {"unit_id": "HP-01", "on": "2026-10-05", "what": "new sign: misuse is an offence"}
    assert http.post("/api/reports/interventions", json=made).status_code == 201
    answer = http.get("/api/reports/monthly.pdf?month=2026-10")
    assert answer.headers["content-type"] == "application/pdf"
    pages = _pages(answer.content, tmp_path)
    total = len(pages)
    cover, summary, *detail = pages
    assert "Monthly report October 2026" in cover and "Northampton help points" in cover
    assert "Generated " in cover and "page 1 of" not in cover
    for number, text in enumerate(pages[1:], start=2):
        assert f"page {number} of {total}" in text
        assert "Northampton help points · Monthly report October 2026" in text
    # The one-page summary: the figures in words and against last month and last year.
    assert "pressed 10 times in October 2026; 3 were genuine" in summary
    assert "60.0% within 30 s (target 80%: not met)" in summary
    assert "1 never answered, counted as failures" in summary
    assert "the police were called to 1 and attended 1 (median 12 minutes" in summary
    assert "1 medical and 0 other without the police" in summary
    assert "£288.89 this month, £433.33 over the 2 months the scheme has run" in summary
    assert "£22,000 capital / 60 months + £500 monitoring a month = £866.67 a month" in summary
    assert "Answered within 30 s (target 80%) 60.0% NOT met 100.0% 0.0%" in summary
    assert "Uptime, all units 99.46% 99.18% no data" in summary
    rest = " ".join(detail)
    assert "80% within 30 s 60.0% (6 of 10) 66.7% NOT met" in rest
    assert "Sat 10 Oct 2026 13:00 HP-01 Racecourse - Kettering Road gate" in rest
    assert re.search(r"Median answer \d+\.\d s, 90th percentile \d+\.\d s \(answered", rest)
    assert "Median time from the call to officers on scene 12.0 min" in rest
    assert "HP-05 Market Square 1 0 1 2" in rest  # false by unit: accidental, malicious, test
    assert "HP-03 Racecourse - middle path 96.64% 25.0 h 745 h" in rest
    assert "Year to date (2026 to Oct 26) 11 4 4 1 1 20.0 s 99.33%" in rest
    assert "new sign: misuse is an offence 2 / 0 1 / 0" in rest
    assert "EN 50518" not in " ".join(pages)
    # Charts: units, zones, classifications, three heatmaps, the summary's and three trend
    # lines (answer shares, median answer time, uptime).
    document = pypdfium2.PdfDocument(answer.content)
    images = sum(
        1
        for page in document
        for obj in page.get_objects()
        if obj.type == pypdfium2.raw.FPDF_PAGEOBJ_IMAGE
    )
    assert images == 10
    year = http.get("/api/reports/monthly.pdf?year=2026")
    cover, summary, *_ = _pages(year.content, tmp_path)
    assert "Yearly report 2026" in cover
    assert "pressed 12 times in 2026; 4 were genuine" in summary


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
