#!/usr/bin/env python3
"""Benchmark the monthly and yearly reports over a store of activations, on SQLite and PostgreSQL.

Fills a fresh database with N activations spread over 2026 across the eight demo units,
classified and answered as a real scheme would be (over 99% false; a few never answered),
with the units first heard on 1 January and a few outages, then times, over --repeat rounds
(median and spread, never the best): the monthly report for July with its trends (JSON view),
the yearly report for 2026, the CSV and the PDF.

    python bench/report.py --activations 4547 --db sqlite postgres     # a year of 8 units
    python bench/report.py --activations 1000000 --db sqlite postgres  # a million

Not a test: nothing here passes or fails on timing. See docs/performance.md for the figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helppoint.domain.classification import Classification  # noqa: E402
from helppoint.domain.events import Priority  # noqa: E402
from helppoint.domain.model import answer_microseconds  # noqa: E402
from helppoint.domain.reports import CostInputs, Month, Year  # noqa: E402
from helppoint.printables.report import report_pdf  # noqa: E402
from helppoint.services.reports import build_monthly_report, report_csv, report_view  # noqa: E402
from helppoint.services.seed import UNITS, seed_demo  # noqa: E402
from helppoint.store import tables as t  # noqa: E402
from helppoint.store.database import make_engine, make_session_factory  # noqa: E402
from helppoint.store.migrate import upgrade  # noqa: E402
from helppoint.store.tables_supervision import unit_flips  # noqa: E402
from helppoint.store.uow import UnitOfWork  # noqa: E402

PG_URL = os.environ.get(
    "HELPPOINT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
#: Over 99% of activations are false (the scheme's experience); the rest spread out.
WEIGHTS = [
    (Classification.FALSE_ACCIDENTAL, 600),
    (Classification.FALSE_MALICIOUS, 250),
    (Classification.FALSE_TEST, 140),
    (Classification.TECHNICAL, 3),
    (Classification.SILENT, 2),
    (Classification.CONCERN, 2),
    (Classification.INFORMATION, 1),
    (Classification.MEDICAL, 1),
    (Classification.IMMINENT_THREAT, 1),
]


def fill(engine_url: str, activations: int, batch: int = 20_000) -> float:
    """Store `activations` closed activation incidents; returns seconds taken."""
    engine = make_engine(engine_url)
    upgrade(engine)
    seed_demo(UnitOfWork(make_session_factory(engine)))
    with UnitOfWork(make_session_factory(engine)) as uow:
        uow.units.touch([u.id for u in UNITS], YEAR_START)  # supervised from 1 January
        uow.commit()
    rng = random.Random(6)
    codes, weights = zip(*WEIGHTS, strict=True)
    unit_ids = [u.id for u in UNITS]
    year_seconds = 365 * 24 * 3600
    started = time.perf_counter()
    rows = []
    with engine.begin() as conn:
        for n in range(activations):
            opened = YEAR_START + timedelta(seconds=rng.randrange(year_seconds))
            answer = timedelta(seconds=rng.expovariate(1 / 12))
            code = rng.choices(codes, weights)[0]
            escalated = (
                opened + answer + timedelta(seconds=90) if code.category == "genuine" else None
            )
            answered = None if n % 1000 == 999 else opened + answer
            rows.append(
                {
                    "unit_id": unit_ids[n % len(unit_ids)],
                    "priority": Priority.ACTIVATION,
                    "state": "closed",
                    "opened_at": opened,
                    "last_event_at": opened,
                    "event_count": 1,
                    # About one in a thousand is never answered.
                    "acknowledged_at": answered,
                    "answer_microseconds": None
                    if answered is None
                    else answer_microseconds(opened, answered),
                    "acknowledged_by": "bench",
                    "assessed_at": opened + answer + timedelta(seconds=30),
                    "classification": code,
                    "escalated_at": escalated,
                    "closed_at": opened + answer + timedelta(seconds=120),
                    "closed_by": "bench",
                    "outcome": "",
                    "version": 1,
                }
            )
            if len(rows) == batch:
                conn.execute(insert(t.incidents), rows)
                rows = []
        if rows:
            conn.execute(insert(t.incidents), rows)
        # An outage of a few hours at one unit each month.
        outages = []
        for month in range(1, 13):
            down = datetime(2026, month, 10, 2, tzinfo=UTC)
            unit = unit_ids[month % len(unit_ids)]
            outages.append({"unit_id": unit, "at": down, "old_status": "up", "new_status": "down"})
            back = down + timedelta(hours=month)
            outages.append({"unit_id": unit, "at": back, "old_status": "down", "new_status": "up"})
        conn.execute(insert(unit_flips), outages)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            # As autovacuum does after a load of inserts: statistics, and the visibility map
            # that lets the reports read their index alone (an index-only scan).
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def measure(engine_url: str, rounds: int) -> dict[str, list[float] | int]:
    """Seconds for each of `rounds` rounds: the monthly report for July with its trends (query,
    computation and JSON view), the yearly report for 2026, the month's CSV and PDF."""
    engine = make_engine(engine_url)
    factory = make_session_factory(engine)
    month, costs = Month(2026, 7), CostInputs(22_000, 60, 1_500)
    now = datetime(2027, 1, 15, tzinfo=UTC)
    times: dict[str, list[float]] = {"month": [], "year": [], "csv": [], "pdf": []}
    activations = 0
    for _ in range(rounds):
        started = time.perf_counter()
        report = build_monthly_report(UnitOfWork(factory), month, costs, now=now)
        view = report_view(report)
        times["month"].append(time.perf_counter() - started)
        started = time.perf_counter()
        report_view(build_monthly_report(UnitOfWork(factory), Year(2026), costs, now=now))
        times["year"].append(time.perf_counter() - started)
        started = time.perf_counter()
        report_csv(report)
        times["csv"].append(time.perf_counter() - started)
        started = time.perf_counter()
        report_pdf(report)
        times["pdf"].append(time.perf_counter() - started)
        activations = view["activations"]
    engine.dispose()
    return {**times, "month_activations": activations}


def _figure(values: list[float]) -> str:
    """Median and spread (min-max) of the rounds."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activations", type=int, default=1_000_000)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (at least 3)")
    args = parser.parse_args()
    rounds = max(3, args.repeat)
    print(f"load average {os.getloadavg()[0]:.2f} at the start")
    print(
        f"{args.activations:,} activations over 2026; July's report with trends and the 2026 "
        f"report, median (min-max) of {rounds} rounds, seconds"
    )
    print("| db | fill s | July's activations | month + trends | year | CSV | PDF |")
    print("|---|---|---|---|---|---|---|")
    for db in args.db:
        with tempfile.TemporaryDirectory() as tmp:
            schema = None
            if db == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
            else:
                schema = f"bench_{uuid.uuid4().hex[:8]}"
                admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{schema}"'))
                url = f"{PG_URL}?options=-csearch_path%3D{schema}"
            try:
                filled = fill(url, args.activations)
                figures = measure(url, rounds)
            finally:
                if schema is not None:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()
        timings = {k: v for k, v in figures.items() if isinstance(v, list)}
        print(
            f"| {db} | {filled:.0f} | {figures['month_activations']:,} | "
            + " | ".join(_figure(timings[k]) for k in ("month", "year", "csv", "pdf"))
            + " |",
            flush=True,
        )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
