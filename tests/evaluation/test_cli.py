"""`helppoint crime import`, `evaluate`, `report` and `print` as real subprocesses."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pytest

from helppoint.services.seed import UNITS, seed_demo
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork
from tests.cli import inprocess
from tests.evaluation.police_uk import CHOSEN, Plan, month_range, write_files
from tests.public.pdf_reading import pdf_pages

pytestmark = pytest.mark.slow


def helppoint(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return inprocess.run([*args, "--database-url", f"sqlite:///{db}"])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "hp.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    seed_demo(UnitOfWork(make_session_factory(engine)))
    engine.dispose()
    return path


def test_import_then_evaluate(db: Path, tmp_path: Path) -> None:
    comparison = [(52.26 - 0.009 * i, -0.85) for i in range(8)]
    plan = Plan(
        treated=[(u.latitude, u.longitude) for u in UNITS],
        comparison=comparison,
        months=month_range(date(2025, 1, 1), 25),
        installed=date(2026, 1, 1),
    )
    files = [str(p) for p in write_files(plan, tmp_path)]
    done = helppoint(db, "crime", "import", *files)
    assert done.returncode == 0, done.stderr
    assert "2025-01-northamptonshire-street.csv:" in done.stdout
    assert "without a location skipped" in done.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("Crime ID,Month\nx,2026-01\n")
    refused = helppoint(db, "crime", "import", str(bad))
    assert refused.returncode == 2
    assert "line 1: not a police.uk street-level crime file" in refused.stderr
    types = helppoint(db, "crime", "types")
    assert CHOSEN in types.stdout and "Bicycle theft" in types.stdout
    places = [
        arg for i, (lat, lon) in enumerate(comparison) for arg in ("--compare", f"C{i}:{lat},{lon}")
    ]
    answer = helppoint(
        db, "evaluate", "--type", CHOSEN, "--installed", "2026-01", "--radius", "100", *places,
        "--json",
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    view = json.loads(answer.stdout)
    ratio = view["rate_ratio"]
    assert ratio["low"] <= 0.7 <= ratio["high"] < 1
    text = helppoint(db, "evaluate", "--type", CHOSEN, "--installed", "2026-01", *places)
    assert "association, not proof" in text.stdout and "HP-05" in text.stdout


def test_report_and_printables(db: Path, tmp_path: Path) -> None:
    report = helppoint(db, "report", "2026-10")
    assert json.loads(report.stdout)["activations"] == 0
    pdf, csv_path = tmp_path / "r.pdf", tmp_path / "r.csv"
    done = helppoint(db, "report", "2026-10", "--pdf", str(pdf), "--csv", str(csv_path))
    assert done.returncode == 0, done.stderr
    cover = " ".join(pdf_pages(pdf.read_bytes())[0][0].split())
    assert "Monthly report October 2026" in cover
    yearly = helppoint(db, "report", "2026")
    assert json.loads(yearly.stdout)["kind"] == "year"
    assert csv_path.read_text().startswith("section,item,value")
    signs = tmp_path / "signs.pdf"
    done = helppoint(
        db, "print", "signs", "-o", str(signs), "--base-url", "https://hp.example", "--unit",
        "HP-02",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [codes for _, codes in pdf_pages(signs.read_bytes())] == [["https://hp.example/p/HP-02"]]
    missing = helppoint(db, "print", "leaflet", "-o", str(tmp_path / "l.pdf"))
    assert missing.returncode == 2 and "--base-url" in missing.stderr


def test_seed_history(db: Path) -> None:
    done = helppoint(db, "seed-history", "--days", "5", "--per-day", "3", "--seed", "2")
    assert done.returncode == 0, done.stderr
    assert "history from" in done.stdout and "activations" in done.stdout
    again = helppoint(db, "seed-history", "--days", "5")
    assert again.returncode == 2 and "already has incidents" in again.stderr
