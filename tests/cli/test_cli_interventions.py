"""`helppoint intervention add | list | remove`: the dashboard's interventions from the shell,
with the same rules, audited as `cli` (issue #23)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from helppoint.domain.reports import CostInputs, Month
from helppoint.services.reports import build_monthly_report, list_interventions
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork
from tests.cli.test_cli import helppoint


@pytest.mark.parametrize("action", ["add", "list", "remove"])
def test_intervention_commands_have_help(action: str) -> None:
    result = helppoint("intervention", action, "--help")
    assert result.returncode == 0 and "usage: helppoint intervention" in result.stdout


def _database(tmp_path: Path) -> tuple[Path, UnitOfWork]:
    db = tmp_path / "cli.sqlite"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    factory = make_session_factory(engine)
    seed_demo(UnitOfWork(factory))
    return db, UnitOfWork(factory)


def test_add_list_and_remove(tmp_path: Path) -> None:
    db, uow = _database(tmp_path)
    added = helppoint(
        "intervention", "add", "HP-01", "--on", "2026-10-05", "--what", "new sign", db=db
    )
    assert added.returncode == 0, added.stderr
    [made] = list_interventions(uow)
    assert (made.unit_id, made.on, made.what) == ("HP-01", date(2026, 10, 5), "new sign")
    assert f"intervention {made.id} recorded: HP-01 on 2026-10-05: new sign" in added.stdout
    listed = helppoint("intervention", "list", "--json", db=db)
    assert json.loads(listed.stdout) == [
        {"id": made.id, "unit_id": "HP-01", "on": "2026-10-05", "what": "new sign"}
    ]
    assert f"{made.id:5} 2026-10-05 HP-01" in helppoint("intervention", "list", db=db).stdout
    report = build_monthly_report(
        uow, Month(2026, 10), CostInputs(), now=datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert [e.intervention.id for e in report.interventions] == [made.id]
    with uow:
        actions = [(e.actor, e.action) for e in uow.audit.search(limit=5)[0]]
    assert ("cli", "report.intervention") in actions
    removed = helppoint("intervention", "remove", str(made.id), db=db)
    assert removed.returncode == 0 and f"intervention {made.id} removed" in removed.stdout
    assert list_interventions(uow) == []
    assert "no interventions" in helppoint("intervention", "list", db=db).stdout
    with uow:
        actions = [(e.actor, e.action) for e in uow.audit.search(limit=5)[0]]
    assert ("cli", "report.intervention_removed") in actions


def test_bad_input_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    db, uow = _database(tmp_path)
    unknown = helppoint("intervention", "add", "HP-99", "--on", "2026-10-05", "--what", "x", db=db)
    assert unknown.returncode == 2 and "no unit 'HP-99'" in unknown.stderr
    bad_day = helppoint("intervention", "add", "HP-01", "--on", "5/10/26", "--what", "x", db=db)
    assert bad_day.returncode == 2 and "YYYY-MM-DD" in bad_day.stderr
    blank = helppoint("intervention", "add", "HP-01", "--on", "2026-10-05", "--what", " ", db=db)
    assert blank.returncode == 2 and "say what was done" in blank.stderr
    missing = helppoint("intervention", "remove", "7", db=db)
    assert missing.returncode == 2 and "no intervention 7" in missing.stderr
    assert list_interventions(uow) == []
