"""Import street-level crime files in the police.uk CSV format (docs/evaluation.md).

A file is checked completely before anything is stored: a malformed file is refused with
every problem and its line number (up to a limit), and the database is left as it was.
Re-importing a force's month replaces it, so importing the same file twice counts nothing twice.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.evaluation import distance_m
from helppoint.domain.model import AuditEntry
from helppoint.store.uow import UnitOfWork

#: The columns of a police.uk street-level crime file, in the published order.
COLUMNS = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)
REQUIRED = ("Month", "Falls within", "Longitude", "Latitude", "Crime type")
#: How many problems a refused file lists before it stops looking.
MAX_PROBLEMS = 20
#: Rows between progress reports and per insert batch.
BATCH = 5000


class CrimeFileError(InvalidInput):
    """A crime file is malformed; `problems` are (line, message) pairs."""

    def __init__(self, name: str, problems: list[tuple[int, str]]) -> None:
        self.name = name
        self.problems = problems
        more = " (and more)" if len(problems) >= MAX_PROBLEMS else ""
        listed = "; ".join(f"line {line}: {message}" for line, message in problems[:5])
        super().__init__(
            f"{name}: {len(problems)} problem{'' if len(problems) == 1 else 's'}{more}, "
            f"nothing imported: {listed}"
        )


@dataclass(frozen=True)
class ImportProgress:
    """How far an import has got: reported every few thousand rows."""

    name: str
    phase: str  # "checking" or "storing"
    rows: int
    bytes_read: int
    total_bytes: int | None

    @property
    def fraction(self) -> float | None:
        if not self.total_bytes:
            return None
        return min(1.0, self.bytes_read / self.total_bytes)


Progress = Callable[[ImportProgress], None]


@dataclass
class ImportResult:
    """What an import stored."""

    name: str
    rows: int = 0
    imported: int = 0
    without_location: int = 0
    months: set[date] = field(default_factory=set)
    #: Plausibility warnings (rows left out as implausible, with line numbers).
    warnings: list[str] = field(default_factory=list)
    #: The line of each kept record (for the warnings).
    lines: list[int] = field(default_factory=list, repr=False)
    forces: set[str] = field(default_factory=set)


class _CountingReader(io.RawIOBase):
    """Counts the bytes read through it, for progress on long files."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _month(text: str) -> date:
    year, month = text.strip().split("-")
    if len(year) != 4 or len(month) != 2:
        raise ValueError(text)
    return date(int(year), int(month), 1)


def _coordinate(text: str, low: float, high: float, what: str) -> float:
    value = float(text)
    if not low <= value <= high:
        raise ValueError(f"{what} {text} is outside {low:g}..{high:g}")
    return value


def _rows(
    stream: BinaryIO, name: str, total: int | None, progress: Progress | None
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line, record or None when it has no location, problem or None) for each data row."""
    counter = _CountingReader(stream)
    try:
        text = io.TextIOWrapper(io.BufferedReader(counter), encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            yield 1, None, "the file is empty; expected a police.uk CSV header"
            return
        header = [h.strip() for h in header]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            yield (
                1,
                None,
                f"not a police.uk street-level crime file: missing column(s) "
                f"{', '.join(repr(c) for c in missing)} (found {', '.join(header[:12])})",
            )
            return
        at = {column: header.index(column) for column in header}
        n = 0
        for row in reader:
            line = reader.line_num
            n += 1
            if progress is not None and n % BATCH == 0:
                progress(ImportProgress(name, "checking", n, counter.count, total))
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield line, None, f"expected {len(header)} fields, found {len(row)}"
                continue

            def cell(column: str, row: list[str] = row) -> str:
                return row[at[column]].strip() if column in at else ""

            try:
                month = _month(cell("Month"))
            except ValueError:
                yield line, None, f"Month must be YYYY-MM, not {cell('Month')!r}"
                continue
            if not cell("Crime type"):
                yield line, None, "Crime type is empty"
                continue
            lon_text, lat_text = cell("Longitude"), cell("Latitude")
            if not lon_text and not lat_text:
                yield line, None, None  # police.uk publishes some crimes with no location
                continue
            try:
                longitude = _coordinate(lon_text, -180, 180, "Longitude")
                latitude = _coordinate(lat_text, -90, 90, "Latitude")
            except ValueError as exc:
                detail = str(exc) if "outside" in str(exc) else "must be numbers"
                yield line, None, f"Longitude/Latitude {lon_text!r}, {lat_text!r}: {detail}"
                continue
            record = {
                "month": month,
                "crime_id": cell("Crime ID")[:100],
                "falls_within": cell("Falls within")[:100],
                "longitude": longitude,
                "latitude": latitude,
                "location": cell("Location")[:200],
                "lsoa_code": cell("LSOA code")[:16],
                "crime_type": cell("Crime type")[:100],
                "outcome": cell("Last outcome category")[:200],
            }
            yield line, record, None
    except UnicodeDecodeError as exc:
        yield 0, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except csv.Error as exc:
        yield 0, None, f"not valid CSV: {exc}"


def check_crime_file(
    stream: BinaryIO, name: str, total: int | None = None, progress: Progress | None = None
) -> tuple[list[dict[str, Any]], ImportResult]:
    """Parse a whole file; CrimeFileError lists its problems with line numbers."""
    result = ImportResult(name)
    records: list[dict[str, Any]] = []
    problems: list[tuple[int, str]] = []
    for line, record, problem in _rows(stream, name, total, progress):
        if problem is not None:
            problems.append((line, problem))
            if len(problems) >= MAX_PROBLEMS:
                break
            continue
        result.rows += 1
        if record is None:
            result.without_location += 1
            continue
        records.append(record)
        result.lines.append(line)
        result.months.add(record["month"])
        result.forces.add(record["falls_within"])
    if problems:
        raise CrimeFileError(name, problems)
    if result.rows == 0:
        raise CrimeFileError(name, [(2, "the file has a header but no crimes")])
    result.imported = len(records)
    return records, result


#: A crime further than this from every help point is not in the scheme's force area: most
#: likely latitude and longitude swapped, or a wrong sign (police.uk points are all in England,
#: Wales and Northern Ireland, near the force that published them).
FAR_KM = 100.0


def _far_rows(
    records: list[dict[str, Any]], lines: list[int], places: list[tuple[float, float]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The records within FAR_KM of some help point, and warnings for the rest."""
    if not places:
        return records, []
    kept, far, swapped = [], [], []
    for record, line in zip(records, lines, strict=True):
        lat, lon = record["latitude"], record["longitude"]
        if any(distance_m(lat, lon, p_lat, p_lon) <= FAR_KM * 1000 for p_lat, p_lon in places):
            kept.append(record)
            continue
        far.append(line)
        if any(distance_m(lon, lat, p_lat, p_lon) <= FAR_KM * 1000 for p_lat, p_lon in places):
            swapped.append(line)
    warnings = []
    if far:
        shown = ", ".join(str(n) for n in far[:10]) + (" …" if len(far) > 10 else "")
        warnings.append(
            f"{len(far):,} row(s) more than {FAR_KM:g} km from every help point were left out "
            f"(line {shown})"
            + (
                f"; {len(swapped):,} of them would be near if latitude and longitude were swapped"
                if swapped
                else ""
            )
        )
    return kept, warnings


def _store(
    uow: UnitOfWork,
    name: str,
    records: list[dict[str, Any]],
    result: ImportResult,
    total: int,
    progress: Progress | None,
) -> ImportResult:
    """Leave out implausible rows, then store the file in one transaction (replacing the same
    force and months imported before)."""
    with uow:
        places = [(u.latitude, u.longitude) for u in uow.units.list(include_retired=True)]
    records, warnings = _far_rows(records, result.lines, places)
    result.warnings.extend(warnings)
    result.imported = len(records)
    pairs = {(r["month"], r["falls_within"]) for r in records}
    with uow:
        uow.crime_records.remove_months(pairs)
        for start in range(0, len(records), BATCH):
            uow.crime_records.add(records[start : start + BATCH])
            if progress is not None:
                done = min(start + BATCH, len(records))
                progress(ImportProgress(name, "storing", done, total, total))
        uow.commit()
    return result


def import_crime_file(
    uow: UnitOfWork, path: Path, progress: Progress | None = None
) -> ImportResult:
    """Check a police.uk CSV file, then store it in one transaction (replacing the same force
    and months imported before). A malformed file raises CrimeFileError and stores nothing;
    rows far from every help point are left out with a warning."""
    try:
        total = path.stat().st_size
        with path.open("rb") as stream:
            records, result = check_crime_file(stream, path.name, total, progress)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    return _store(uow, path.name, records, result, total, progress)


def import_crime_upload(
    uow: UnitOfWork, name: str, data: bytes, progress: Progress | None = None
) -> ImportResult:
    """The same for a file uploaded in the browser."""
    records, result = check_crime_file(io.BytesIO(data), name, len(data), progress)
    return _store(uow, name, records, result, len(data), progress)


#: A month with fewer rows than this share of the median month looks incomplete.
THIN_SHARE = 0.25


@dataclass(frozen=True)
class ImportedMonth:
    """One force's month of imported crime, and what looks wrong with it."""

    month: date
    force: str
    rows: int
    warnings: tuple[str, ...]


def imported_months(uow: UnitOfWork) -> tuple[list[ImportedMonth], list[str]]:
    """Each imported (month, force) with its rows and warnings (very few rows), and warnings
    for the whole (gaps: months missing between the first and the last)."""
    with uow:
        rows = uow.crime_records.month_counts()
    by_force: dict[str, list[int]] = {}
    for _, force, count in rows:
        by_force.setdefault(force, []).append(count)
    medians = {force: statistics.median(counts) for force, counts in by_force.items()}
    months = [
        ImportedMonth(
            month,
            force,
            count,
            (
                f"only {count:,} rows against a median of {medians[force]:,.0f} for "
                f"{force or 'this force'}: incomplete? (left out of evaluations)",
            )
            if count < THIN_SHARE * medians[force]
            else (),
        )
        for month, force, count in rows
    ]
    overall = []
    present = sorted({m.month for m in months})
    if present:
        expected, gaps = present[0], []
        while expected <= present[-1]:
            if expected not in present:
                gaps.append(f"{expected:%Y-%m}")
            expected = (
                date(expected.year + 1, 1, 1)
                if expected.month == 12
                else date(expected.year, expected.month + 1, 1)
            )
        if gaps:
            overall.append(f"no data for {', '.join(gaps)} (a gap between imported months)")
    return months, overall


def thin_months(uow: UnitOfWork) -> set[date]:
    """Months where some force's data looks incomplete (left out of evaluations)."""
    months, _ = imported_months(uow)
    return {m.month for m in months if m.warnings}


def remove_crime_month(
    uow: UnitOfWork, month: date, force: str | None, by: str, now: datetime
) -> int:
    """Remove an imported month (one force's, or every force's); the rows removed (audited)."""
    with uow:
        removed = uow.crime_records.remove_month(month, force)
        if not removed:
            raise NotFound(
                f"no crime data imported for {month:%Y-%m}" + (f" ({force})" if force else "")
            )
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=by,
                action="crime.month_removed",
                detail={"month": f"{month:%Y-%m}", "force": force, "rows": removed},
            )
        )
        uow.commit()
    return removed
