"""Importing police.uk street-level crime files: good files, malformed files, progress."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helppoint.services.crime_import import (
    COLUMNS,
    CrimeFileError,
    ImportProgress,
    import_crime_file,
)
from helppoint.store.tables_public import crime_records

HEADER = ",".join(COLUMNS)
GOOD = (
    "abc123,2026-10,Northamptonshire Police,Northamptonshire Police,-0.895910,52.237240,"
    "On or near Market Square,E01027000,Northampton 020A,Violence and sexual offences,"
    "Under investigation,"
)
NO_LOCATION = ",2026-10,Northamptonshire Police,Northamptonshire Police,,,No location,,,"
NO_LOCATION += "Anti-social behaviour,,"


def _write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _count(database) -> int:  # type: ignore[no-untyped-def]
    with database.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(crime_records)).scalar_one())


def test_a_good_file_is_stored_and_reimporting_replaces_it(database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, "2026-10-northamptonshire-street.csv", HEADER, GOOD, NO_LOCATION, GOOD)
    result = import_crime_file(database.uow(), path)
    assert (result.rows, result.imported, result.without_location) == (3, 2, 1)
    assert result.months == {date(2026, 10, 1)}
    assert result.forces == {"Northamptonshire Police"}
    import_crime_file(database.uow(), path)
    assert _count(database) == 2  # the same force and month again: replaced, not doubled
    with database.engine.connect() as conn:
        row = conn.execute(select(crime_records)).first()
    assert row is not None
    assert (row.month, row.crime_type, row.latitude) == (
        date(2026, 10, 1),
        "Violence and sexual offences",
        52.23724,
    )


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ((), "line 1: the file is empty"),
        ((HEADER,), "line 2: the file has a header but no crimes"),
        (("Crime ID,Month,Crime type", GOOD), "missing column(s) 'Falls within', 'Longitude'"),
        ((HEADER, GOOD, GOOD.replace("2026-10", "Oct 2026")), "line 3: Month must be YYYY-MM"),
        ((HEADER, GOOD, GOOD, GOOD.replace("52.237240", "north")), "line 4: Longitude/Latitude"),
        ((HEADER, GOOD.replace("52.237240", "95.0")), "line 2: Longitude/Latitude"),
        ((HEADER, GOOD, "a,b,c"), "line 3: expected 12 fields, found 3"),
        ((HEADER, GOOD.replace("Violence and sexual offences", "")), "line 2: Crime type"),
    ],
)
def test_malformed_files_are_refused_with_line_numbers_and_store_nothing(
    database, tmp_path, lines, expected
) -> None:  # type: ignore[no-untyped-def]
    import_crime_file(database.uow(), _write(tmp_path, "good.csv", HEADER, GOOD))
    path = _write(tmp_path, "bad.csv", *lines) if lines else tmp_path / "bad.csv"
    if not lines:
        path.write_bytes(b"")
    with pytest.raises(CrimeFileError) as caught:
        import_crime_file(database.uow(), path)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("bad.csv:") and "nothing imported" in str(caught.value)
    assert _count(database) == 1


def test_every_problem_is_listed_with_its_line(sqlite_database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    quoted = GOOD.replace("On or near Market Square", '"On or near\nMarket Square"')
    path = _write(
        tmp_path, "bad.csv", HEADER, quoted, GOOD.replace("2026-10", "2026-13"), "x,y", GOOD
    )
    with pytest.raises(CrimeFileError) as caught:
        import_crime_file(sqlite_database.uow(), path)
    # A quoted line break inside a field moves the following rows down a line.
    assert caught.value.problems == [
        (4, "Month must be YYYY-MM, not '2026-13'"),
        (5, "expected 12 fields, found 2"),
    ]


def test_not_utf8_and_missing_files_are_clear_errors(sqlite_database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "\n" + GOOD.replace("Market", "M\xe4rket") + "\n").encode("latin-1"))
    with pytest.raises(CrimeFileError, match="not UTF-8"):
        import_crime_file(sqlite_database.uow(), path)
    with pytest.raises(Exception, match="cannot read"):
        import_crime_file(sqlite_database.uow(), tmp_path / "missing.csv")


def test_long_imports_report_progress(sqlite_database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, "big.csv", HEADER, *[GOOD] * 12_000)
    seen: list[ImportProgress] = []
    result = import_crime_file(sqlite_database.uow(), path, seen.append)
    assert result.imported == 12_000
    checking = [p for p in seen if p.phase == "checking"]
    storing = [p for p in seen if p.phase == "storing"]
    assert [p.rows for p in checking] == [5000, 10_000]
    assert all(0 < (p.fraction or 0) < 1 for p in checking)
    assert [p.rows for p in storing] == [5000, 10_000, 12_000]
    assert storing[-1].fraction == 1.0
